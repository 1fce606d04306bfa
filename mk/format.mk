# Format area: oracle fixtures (internal/fixture, scripts/fixtures) and the
# safetensors format package (pkg/safetensors: header, dtype, errors, virtual
# files) with its JSON lexer (internal/jsonlex) and the Python json.dumps re-encoder
# (internal/pyjson).
# Unit tests run under test-go (go test ./...).

# `make fixtures-sd15` … write the component files and the golden checkpoint
# of one architecture under $(FIXTURES)/<arch> (kept when already up to date).
# flux_dev is 34 GB: `make fixtures-flux_dev-sparse` writes it as sparse files.
FIXTURE_ARCHS := sd15 sdxl_base sd3_medium flux_dev
.PHONY: $(addprefix fixtures-,$(FIXTURE_ARCHS)) $(addsuffix -sparse,$(addprefix fixtures-,$(FIXTURE_ARCHS))) fuzz-header bench-header
$(addprefix fixtures-,$(FIXTURE_ARCHS)): fixtures-%:
	$(GO) run ./scripts/fixtures gen -arch $* -out $(FIXTURES)/$* -checkpoint
$(addsuffix -sparse,$(addprefix fixtures-,$(FIXTURE_ARCHS))): fixtures-%-sparse:
	$(GO) run ./scripts/fixtures gen -arch $* -out $(FIXTURES)/$*-sparse -checkpoint -sparse

# Fuzz the header reader for a while (FUZZTIME=5m make fuzz-header).
FUZZTIME ?= 60s
fuzz-header:
	$(GO) test ./pkg/safetensors -run '^$$' -fuzz '^FuzzReadHeader$$' -fuzztime $(FUZZTIME)

BENCH_TARGETS += bench-header
bench-header:
	$(GO) test ./pkg/safetensors -run '^$$' -bench 'ReadHeader|EncodeHeader' -benchmem
