package checkpoint

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/ckptpack/ckptpack/pkg/safetensors"
)

// ModelSpec 1.0.1 (github.com/Stability-AI/ModelSpec, and the 1.0.1 key set
// kohya-ss/sd-scripts writes in library/sai_model_spec.py): every key lives
// in __metadata__ under the "modelspec." prefix.
const (
	// ModelSpecVersion is written as modelspec.sai_model_spec whenever the
	// user sets a ModelSpec field. ComfyUI's CheckpointSave writes "1.0.0"
	// (for SDXL/SVD/SD3 only) and that is kept when the user sets nothing.
	ModelSpecVersion = "1.0.1"
	keySpecVersion   = "modelspec.sai_model_spec"
	// DataHashKey is modelspec.hash_sha256: "a hash of all tensor content
	// (ie excluding the header section), with 0x prefix", i.e. SHA-256 of
	// the file's bytes from 8+N to the end, lowercase hex.
	DataHashKey = "modelspec.hash_sha256"
	// MaxThumbnailBytes bounds a thumbnail image. The spec asks for "a (very
	// small!) thumbnail", 256×256 recommended; ComfyUI's model library shows
	// metadata only from headers up to 1 MiB.
	MaxThumbnailBytes = 2 << 20
	// MaxThumbnailSide bounds each side of a thumbnail in pixels.
	MaxThumbnailSide = 4096
)

// hashPlaceholder reserves the room of a "0x" + 64 hex digit value so the
// header length is known before the data is written (see Plan.HashSlot).
const hashPlaceholder = "0x0000000000000000000000000000000000000000000000000000000000000000"

// ModelSpec holds the user-editable ModelSpec fields. An empty field is not
// set: it is neither written nor changed. Field names are the wire names of
// the worker protocol and of "ckptpack meta show --json".
type ModelSpec struct {
	Title          string `json:"title,omitempty"`
	Author         string `json:"author,omitempty"`
	Description    string `json:"description,omitempty"`
	Date           string `json:"date,omitempty"`       // ISO 8601: 2024-05-01, 2024-05-01T12:00:00Z
	Resolution     string `json:"resolution,omitempty"` // WxH: 1024x1024
	License        string `json:"license,omitempty"`
	Tags           string `json:"tags,omitempty"` // comma-separated
	TriggerPhrase  string `json:"trigger_phrase,omitempty"`
	PredictionType string `json:"prediction_type,omitempty"` // epsilon or v
	UsageHint      string `json:"usage_hint,omitempty"`
	MergedFrom     string `json:"merged_from,omitempty"`
	// Thumbnail is a data URL (data:image/png;base64,…). ThumbnailImage
	// and ThumbnailFromDataURL make one and check that it is an image.
	Thumbnail string `json:"thumbnail,omitempty"`
	// ThumbnailName is the image file's name, for error messages only.
	ThumbnailName string `json:"thumbnail_name,omitempty"`
}

// modelSpecField describes one user field: its key, how it is checked and
// normalised, and where it lives in ModelSpec.
type modelSpecField struct {
	Name      string // wire / flag name: "trigger_phrase"
	Multiline bool   // free text that may hold line breaks
	check     func(string) (string, error)
	get       func(*ModelSpec) *string
}

// modelSpecFields lists the editable fields in the order a UI shows them.
var modelSpecFields = []modelSpecField{
	{Name: "title", get: func(m *ModelSpec) *string { return &m.Title }},
	{Name: "author", get: func(m *ModelSpec) *string { return &m.Author }},
	{Name: "description", Multiline: true, get: func(m *ModelSpec) *string { return &m.Description }},
	{Name: "date", check: checkISODate, get: func(m *ModelSpec) *string { return &m.Date }},
	{Name: "resolution", check: checkResolution, get: func(m *ModelSpec) *string { return &m.Resolution }},
	{Name: "license", Multiline: true, get: func(m *ModelSpec) *string { return &m.License }},
	{Name: "tags", check: normaliseTags, get: func(m *ModelSpec) *string { return &m.Tags }},
	{Name: "trigger_phrase", get: func(m *ModelSpec) *string { return &m.TriggerPhrase }},
	{Name: "prediction_type", check: checkPredictionType, get: func(m *ModelSpec) *string { return &m.PredictionType }},
	{Name: "usage_hint", Multiline: true, get: func(m *ModelSpec) *string { return &m.UsageHint }},
	{Name: "merged_from", get: func(m *ModelSpec) *string { return &m.MergedFrom }},
	{Name: "thumbnail", get: func(m *ModelSpec) *string { return &m.Thumbnail }},
}

// ModelSpecFieldNames are the editable field names, in display order.
func ModelSpecFieldNames() []string {
	names := make([]string, len(modelSpecFields))
	for i, f := range modelSpecFields {
		names[i] = f.Name
	}
	return names
}

// ModelSpecKey is the metadata key of a field name ("title" →
// "modelspec.title"); "" for a name that is not a field.
func ModelSpecKey(name string) string {
	for _, f := range modelSpecFields {
		if f.Name == name {
			return "modelspec." + name
		}
	}
	return ""
}

// Set assigns the field called name ("title", "trigger_phrase" …).
func (m *ModelSpec) Set(name, value string) error {
	for _, f := range modelSpecFields {
		if f.Name == name {
			*f.get(m) = value
			return nil
		}
	}
	return fmt.Errorf("%w: no ModelSpec field %q (fields: %s)", ErrModelSpec, name, strings.Join(ModelSpecFieldNames(), ", "))
}

// ModelSpecError is a field value the spec does not allow. Key is the
// metadata key ("modelspec.date").
type ModelSpecError struct {
	Key   string
	Value string
	Err   error
}

func (e *ModelSpecError) Error() string {
	v := e.Value
	if r := []rune(v); len(r) > 60 {
		v = string(r[:60]) + "…"
	}
	if strings.HasPrefix(v, "data:") {
		return fmt.Sprintf("%s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("%s %q: %v", e.Key, v, e.Err)
}

func (e *ModelSpecError) Unwrap() []error { return []error{ErrModelSpec, e.Err} }

// ErrModelSpec is wrapped by every ModelSpec validation error.
var ErrModelSpec = errors.New("invalid ModelSpec value")

// IsZero reports whether no field is set.
func (m ModelSpec) IsZero() bool {
	for _, f := range modelSpecFields {
		if *f.get(&m) != "" {
			return false
		}
	}
	return true
}

// Normalize checks every set field and returns the spec with values
// normalised (surrounding space trimmed, tags as "a,b,c", the thumbnail's
// media type taken from its bytes). The error names the metadata key.
func (m ModelSpec) Normalize() (ModelSpec, error) {
	for _, f := range modelSpecFields {
		p := f.get(&m)
		v := strings.TrimSpace(*p)
		if v == "" {
			*p = ""
			continue
		}
		key := "modelspec." + f.Name
		if err := checkText(v, f.Multiline); err != nil {
			return m, &ModelSpecError{Key: key, Value: v, Err: err}
		}
		check := f.check
		if f.Name == "thumbnail" {
			check = func(v string) (string, error) {
				name := m.ThumbnailName
				if name == "" {
					name = "thumbnail"
				}
				return ThumbnailFromDataURL(name, v)
			}
		}
		if check != nil {
			nv, err := check(v)
			if err != nil {
				return m, &ModelSpecError{Key: key, Value: v, Err: err}
			}
			v = nv
		}
		*p = v
	}
	return m, nil
}

// apply writes the set fields of m (already normalised) into meta. Any set
// field, or a requested data hash, makes the file follow ModelSpec 1.0.1,
// so modelspec.sai_model_spec becomes "1.0.1"; with nothing set meta is
// left exactly as ComfyUI wrote it.
func (m ModelSpec) apply(meta map[string]string, withHash bool) {
	set := withHash
	for _, f := range modelSpecFields {
		if v := *f.get(&m); v != "" {
			meta["modelspec."+f.Name] = v
			set = true
		}
	}
	if withHash {
		meta[DataHashKey] = hashPlaceholder
	}
	if set {
		meta[keySpecVersion] = ModelSpecVersion
	}
}

// ModelSpecOf reads the editable fields present in a file's metadata.
func ModelSpecOf(meta map[string]string) ModelSpec {
	var m ModelSpec
	for _, f := range modelSpecFields {
		*f.get(&m) = meta["modelspec."+f.Name]
	}
	return m
}

// checkText refuses control characters: a single-line field may hold none,
// a multi-line one only line breaks and tabs.
func checkText(v string, multiline bool) error {
	for _, r := range v {
		if r == '\t' || (multiline && (r == '\n' || r == '\r')) {
			continue
		}
		if unicode.IsControl(r) {
			if !multiline && (r == '\n' || r == '\r') {
				return errors.New("must be one line")
			}
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

// isoDate matches the ISO 8601 forms tools write: a calendar date, with an
// optional time (minutes or seconds, optional fraction) and zone.
// Compiled on first use (a ModelSpec date to check), not at start-up.
var isoDate = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$`)
})

func checkISODate(v string) (string, error) {
	m := isoDate().FindStringSubmatch(v)
	if m == nil {
		return "", errors.New("want an ISO 8601 date such as 2024-05-01 or 2024-05-01T12:30:00Z")
	}
	if _, err := time.Parse("2006-01-02", m[1]+"-"+m[2]+"-"+m[3]); err != nil {
		return "", errors.New("not a calendar date")
	}
	if m[4] != "" {
		h, mi := atoi2(m[4]), atoi2(m[5])
		s := 0
		if m[6] != "" {
			s = atoi2(m[6])
		}
		if h > 23 || mi > 59 || s > 60 {
			return "", errors.New("not a valid time of day")
		}
	}
	return v, nil
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// resolutionRE is compiled on first use, like isoDate.
var resolutionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$`) })

func checkResolution(v string) (string, error) {
	if !resolutionRE().MatchString(v) {
		return "", errors.New("want (width)x(height) in pixels, such as 1024x1024")
	}
	return v, nil
}

// normaliseTags trims each comma-separated tag and drops empty and repeated
// ones, so readers that split on "," get clean tags.
func normaliseTags(v string) (string, error) {
	var tags []string
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	if len(tags) == 0 {
		return "", errors.New("no tag (want a comma-separated list)")
	}
	return strings.Join(tags, ","), nil
}

// checkPredictionType accepts the values the spec names for Stable
// Diffusion ("v" or "epsilon").
func checkPredictionType(v string) (string, error) {
	switch v {
	case "epsilon", "v":
		return v, nil
	}
	return "", errors.New("want epsilon or v")
}

// ThumbnailFromDataURL checks a "data:image/…;base64,…" URL (as a page's
// FileReader.readAsDataURL makes) the way ThumbnailImage checks a file, and
// returns it with the media type the bytes have. name is used in errors.
func ThumbnailFromDataURL(name, url string) (string, error) {
	rest, ok := strings.CutPrefix(url, "data:")
	if !ok {
		return "", fmt.Errorf("%s: %w: not a data URL (want data:image/png;base64,…)", name, ErrThumbnail)
	}
	head, b64, ok := strings.Cut(rest, ",")
	if !ok || !strings.HasSuffix(head, ";base64") {
		return "", fmt.Errorf("%s: %w: not a base64 data URL", name, ErrThumbnail)
	}
	if base64.StdEncoding.DecodedLen(len(b64)) > MaxThumbnailBytes+3 {
		return "", fmt.Errorf("%s: %w: more than %d bytes (use a small image, 256×256 is recommended)", name, ErrThumbnail, MaxThumbnailBytes)
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("%s: %w: bad base64: %v", name, ErrThumbnail, err)
	}
	return ThumbnailImage(name, data)
}

// ErrThumbnail is wrapped by every thumbnail error.
var ErrThumbnail = errors.New("not a usable thumbnail")

// ThumbnailImage turns the bytes of an image file into the data URL the
// spec stores as modelspec.thumbnail. The bytes must be a PNG, JPEG or
// WebP image by their signature and structure (not by file name), at most
// MaxThumbnailBytes, with sides of 1 to MaxThumbnailSide pixels. name (the
// file) is used in errors.
func ThumbnailImage(name string, data []byte) (string, error) {
	if len(data) > MaxThumbnailBytes {
		return "", fmt.Errorf("%s: %w: %d bytes, more than %d (use a small image, 256×256 is recommended)", name, ErrThumbnail, len(data), MaxThumbnailBytes)
	}
	mime, w, h, err := sniffImage(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w: %v", name, ErrThumbnail, err)
	}
	if w < 1 || h < 1 || w > MaxThumbnailSide || h > MaxThumbnailSide {
		return "", fmt.Errorf("%s: %w: %d×%d pixels (each side must be 1 to %d; 256×256 is recommended)", name, ErrThumbnail, w, h, MaxThumbnailSide)
	}
	return "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(data), nil
}

// sniffImage identifies PNG, JPEG and WebP by signature and reads the
// dimensions from their headers (no decoding, no image packages).
func sniffImage(b []byte) (mime string, w, h int, err error) {
	switch {
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		// Signature, then the IHDR chunk: length 13, "IHDR", width, height.
		if len(b) < 33 || binary.BigEndian.Uint32(b[8:12]) != 13 || string(b[12:16]) != "IHDR" {
			return "", 0, 0, errors.New("PNG without an IHDR chunk (truncated or damaged)")
		}
		if !strings.HasSuffix(string(b[max(0, len(b)-12):]), "IEND\xaeB`\x82") {
			return "", 0, 0, errors.New("PNG without its IEND trailer (truncated)")
		}
		return "image/png", int(binary.BigEndian.Uint32(b[16:20])), int(binary.BigEndian.Uint32(b[20:24])), nil
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		w, h, err := jpegSize(b)
		return "image/jpeg", w, h, err
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		w, h, err := webpSize(b)
		return "image/webp", w, h, err
	}
	return "", 0, 0, errors.New("not a PNG, JPEG or WebP image")
}

// jpegSize walks the JPEG segments to the first start-of-frame marker.
func jpegSize(b []byte) (int, int, error) {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 0, 0, errors.New("JPEG with a damaged segment structure")
		}
		marker := b[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2 : i+4]))
		if n < 2 || i+2+n > len(b) {
			return 0, 0, errors.New("JPEG truncated inside a segment")
		}
		isSOF := marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
		if isSOF {
			if n < 7 {
				return 0, 0, errors.New("JPEG with a short frame header")
			}
			h := int(binary.BigEndian.Uint16(b[i+5 : i+7]))
			w := int(binary.BigEndian.Uint16(b[i+7 : i+9]))
			return w, h, nil
		}
		if marker == 0xDA || marker == 0xD9 {
			break
		}
		i += 2 + n
	}
	return 0, 0, errors.New("JPEG without a frame header (truncated or damaged)")
}

// webpSize reads the canvas size of a lossy (VP8), lossless (VP8L) or
// extended (VP8X) WebP.
func webpSize(b []byte) (int, int, error) {
	if riff := int64(binary.LittleEndian.Uint32(b[4:8])); riff+8 > int64(len(b)) || riff < 4 {
		return 0, 0, errors.New("WebP shorter than its RIFF header says (truncated)")
	}
	if len(b) < 30 {
		return 0, 0, errors.New("WebP too short for an image header")
	}
	switch string(b[12:16]) {
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, errors.New("WebP (VP8) without its frame start code")
		}
		return int(binary.LittleEndian.Uint16(b[26:28]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:30]) & 0x3fff), nil
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, errors.New("WebP (VP8L) without its signature")
		}
		v := binary.LittleEndian.Uint32(b[21:25])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, nil
	case "VP8X":
		w := int(b[24]) | int(b[25])<<8 | int(b[26])<<16
		h := int(b[27]) | int(b[28])<<8 | int(b[29])<<16
		return w + 1, h + 1, nil
	}
	return 0, 0, errors.New("WebP without a VP8, VP8L or VP8X chunk")
}

// checkPredictionAgrees refuses a modelspec.prediction_type that contradicts
// the prediction key the checkpoint is saved with (ComfyUI's
// modelspec.predict_key), since a loader would then trust the wrong one.
func checkPredictionAgrees(m ModelSpec, meta map[string]string) error {
	want := m.PredictionType
	if want == "" {
		return nil
	}
	if have, ok := meta["modelspec.predict_key"]; ok && have != want {
		return &ModelSpecError{Key: "modelspec.prediction_type", Value: want,
			Err: fmt.Errorf("contradicts the model, which is saved as %q (modelspec.predict_key); choose the prediction type instead", have)}
	}
	return nil
}

// applyModelSpec validates the user's fields and writes them (and the hash
// placeholder) into meta.
func applyModelSpec(meta map[string]string, spec ModelSpec, withHash bool) error {
	ms, err := spec.Normalize()
	if err != nil {
		return err
	}
	ms.apply(meta, withHash)
	return checkPredictionAgrees(ms, meta)
}

// withHashSlot finishes a planned header: it records where the hash
// placeholder sits, and turns a header over the 100 MB limit into an error
// naming the file and the metadata key that made it so large.
func withHashSlot(p *Plan, err error, file string, meta map[string]string, withHash bool) (*Plan, error) {
	if err != nil {
		if errors.Is(err, safetensors.ErrHeaderTooLarge) {
			return nil, headerTooLargeError(file, meta)
		}
		return nil, err
	}
	if withHash {
		if p.HashSlot = hashSlot(p.Header); p.HashSlot == 0 {
			return nil, fmt.Errorf("%w: %s placeholder missing from the header (overridden by --metadata?)", ErrBadPlan, DataHashKey)
		}
	}
	return p, nil
}

// headerTooLargeError names the largest metadata value, the usual cause of
// a header over safetensors' limit (a huge description or thumbnail).
func headerTooLargeError(file string, meta map[string]string) error {
	key, size := "", 0
	for k, v := range meta {
		if len(v) > size || (len(v) == size && k < key) {
			key, size = k, len(v)
		}
	}
	return &safetensors.HeaderError{File: file, Rule: safetensors.ErrHeaderTooLarge,
		Detail: fmt.Sprintf("metadata %q alone is %d bytes; shorten it", key, size)}
}
