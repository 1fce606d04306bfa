package checkpoint

import "errors"

// PlanCheckpoint detects what each input holds and plans the checkpoint
// ComfyUI's CheckpointSave would write for those components.
func PlanCheckpoint(req SaveRequest) (*Plan, error) {
	return nil, errors.New("checkpoint: PlanCheckpoint not implemented yet")
}
