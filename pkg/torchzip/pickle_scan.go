package torchzip

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Limits of scanPickle. torch.save spends about 42 opcodes and 9 containers
// per tensor (measured on testdata/torch/plain.pt with pickletools), so a
// full SDXL checkpoint (2,515 tensors) takes about 105,000 and 23,000: the
// limits leave room for about 190,000 tensors.
const (
	maxOpcodes    = 8_000_000
	maxContainers = 2_000_000
)

// scanPickle walks the opcodes of a pickle without running any of them,
// before the unpickler sees it, and checks three things:
//
//   - every length an opcode declares (strings, bytes, frames, longs) fits in
//     what is left of the pickle: gopickle allocates a declared length
//     before reading it, so a 2^40-byte BINBYTES8 would otherwise exhaust
//     memory (the size-bomb guard for the pickle itself);
//   - every class named by GLOBAL or INST is allowed (see allowed): a refused
//     class is reported before anything is built, as picklescan-style
//     scanners do. STACK_GLOBAL takes its names from the stack, so those are
//     checked when the unpickler resolves them (findClass);
//   - the number of opcodes, and of those that build a container, stays
//     within what a state dict of 190,000 tensors needs
//     (maxOpcodes, maxContainers): every opcode costs the unpickler memory,
//     so a pickle of millions of EMPTY_DICTs could otherwise cost gigabytes
//     from a few megabytes of file.
//
// Opcode arguments follow CPython's Lib/pickletools.py.
func scanPickle(file string, p []byte) error {
	pos := 0
	ops, containers := 0, 0
	need := func(n uint64, what string) error {
		if n > uint64(len(p)-pos) {
			return fmt.Errorf("%s: data.pkl: %s of %d bytes at offset %d runs past the end of the pickle (%d bytes): refused", file, what, n, pos, len(p))
		}
		return nil
	}
	line := func() (string, error) {
		i := bytes.IndexByte(p[pos:], '\n')
		if i < 0 {
			return "", fmt.Errorf("%s: data.pkl: unterminated text argument at offset %d", file, pos)
		}
		s := string(p[pos : pos+i])
		pos += i + 1
		return s, nil
	}
	for pos < len(p) {
		op := p[pos]
		at := pos
		pos++
		ops++
		switch op {
		case '}', ']', ')', 'd', 'l', 't', 0x85, 0x86, 0x87, 0x8f, 0x91, 'R', 'o', 'i', 0x81, 0x92:
			containers++
		}
		if ops > maxOpcodes || containers > maxContainers {
			return fmt.Errorf("%s: data.pkl: more than %d opcodes or %d containers, far beyond any state dict: refused", file, maxOpcodes, maxContainers)
		}
		var fixed uint64
		switch op {
		// no argument
		case '(', '.', '0', '1', '2', 'N', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 'R', 's', 't', ')', 'u', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			if op == '.' {
				return nil
			}
		case 'K', 'h', 'q', 0x80, 0x82: // BININT1, BINGET, BINPUT, PROTO, EXT1
			fixed = 1
		case 'M', 0x83: // BININT2, EXT2
			fixed = 2
		case 'J', 'j', 'r', 0x84: // BININT, LONG_BINGET, LONG_BINPUT, EXT4
			fixed = 4
		case 'G': // BINFLOAT
			fixed = 8
		case 0x95: // FRAME: the length covers the opcodes that follow, scanned as usual
			if err := need(8, "length"); err != nil {
				return err
			}
			n := binary.LittleEndian.Uint64(p[pos:])
			pos += 8
			if err := need(n, "frame"); err != nil {
				return err
			}
		case 'U', 'C', 0x8c, 0x8a: // SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE, LONG1
			if err := need(1, "length"); err != nil {
				return err
			}
			n := uint64(p[pos])
			pos++
			fixed = n
		case 'T', 'X', 'B', 0x8b: // BINSTRING, BINUNICODE, BINBYTES, LONG4
			if err := need(4, "length"); err != nil {
				return err
			}
			n := uint64(binary.LittleEndian.Uint32(p[pos:]))
			pos += 4
			fixed = n
		case 0x8d, 0x8e, 0x96: // BINUNICODE8, BINBYTES8, BYTEARRAY8
			if err := need(8, "length"); err != nil {
				return err
			}
			n := binary.LittleEndian.Uint64(p[pos:])
			pos += 8
			fixed = n
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // text argument to end of line
			if _, err := line(); err != nil {
				return err
			}
		case 'c', 'i': // GLOBAL, INST: module and name lines
			module, err := line()
			if err != nil {
				return err
			}
			name, err := line()
			if err != nil {
				return err
			}
			if _, err := allowed(file, module, name); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: data.pkl: unknown pickle opcode 0x%02x at offset %d", file, op, at)
		}
		if err := need(fixed, fmt.Sprintf("argument of opcode 0x%02x", op)); err != nil {
			return err
		}
		pos += int(fixed)
	}
	return fmt.Errorf("%s: data.pkl: pickle has no STOP opcode (truncated)", file)
}
