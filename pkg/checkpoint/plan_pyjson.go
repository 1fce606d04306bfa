package checkpoint

import "errors"

// pythonJSONDumps and pythonJSONObjectDumps adapt the format engineer's
// Python-json encoder (pyjson.go) for metadata.
func pythonJSONDumps(raw string) (string, error) {
	return "", errors.New("python json encoder not available yet")
}

func pythonJSONObjectDumps(raw string) ([][2]string, error) {
	return nil, errors.New("python json encoder not available yet")
}
