#!/usr/bin/python3
"""Write the tiny .ckpt/.pt fixtures of testdata/torch with a real torch.

Run with Debian's python3-torch (apt-get install python3-torch):

    /usr/bin/python3 scripts/torchfixtures/make_fixtures.py testdata/torch

The files are committed (a few KB in all), so tests never need torch. Each
one is what torch.save really writes; the hostile ones are built the way an
attacker would build them. Tensor values are arange-based, so a test can
check every byte: element i of a tensor is float(i) (or i for integers),
and the test-side expectations live in pkg/torchzip/torchzip_test.go.
"""
import collections
import io
import os
import pickle
import sys
import zipfile

import torch


def values(shape, dtype):
    n = 1
    for d in shape:
        n *= d
    return torch.arange(n).to(dtype).reshape(shape)


def state_dict_ckpt(path):
    # A Lightning-style checkpoint: {"state_dict": ..., "global_step": ...},
    # with every storage dtype SD checkpoints use, a view into a shared
    # storage (offset != 0), a parameter, a 0-d tensor and EMA keys.
    shared = values((6, 4), torch.float32)
    sd = collections.OrderedDict()
    sd["model.diffusion_model.w_f32"] = values((2, 3), torch.float32)
    sd["model.diffusion_model.w_f16"] = values((4,), torch.float16)
    sd["model.diffusion_model.w_bf16"] = values((2, 2), torch.bfloat16)
    sd["cond_stage_model.position_ids"] = values((1, 5), torch.int64)
    sd["model.view_tail"] = shared[3:]          # storage offset 12, shape (3, 4)
    sd["model.view_head"] = shared[:2]          # same storage, offset 0
    sd["model.param"] = torch.nn.Parameter(values((3,), torch.float32))
    sd["model.scalar"] = torch.tensor(7.0)
    sd["model_ema.decay"] = torch.tensor(0.9999)
    sd["model_ema.num_updates"] = torch.tensor(3, dtype=torch.int32)
    sd["model.mask"] = torch.tensor([True, False, True])
    torch.save({"state_dict": sd, "global_step": 5, "epoch": 1}, path)


def plain_pt(path):
    # torch.save(model.state_dict()): an OrderedDict at the top level.
    m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2))
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(values(p.shape, torch.float32))
    torch.save(m.state_dict(), path)


def noncontiguous(path):
    torch.save({"weight_t": values((2, 3), torch.float32).t()}, path)


def legacy(path):
    torch.save({"w": values((2,), torch.float32)}, path, _use_new_zipfile_serialization=False)


def compressed(src, path):
    # The same archive with every entry deflated: what a careless re-zip does.
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))


class Evil:
    # pickle calls os.system("...") when this is loaded: the classic
    # malicious checkpoint. The command only creates a marker file, so a
    # test can prove it never ran.
    def __reduce__(self):
        return (os.system, ("touch /tmp/ckptpack-pwned",))


def malicious(path):
    torch.save({"state_dict": {"w": values((2,), torch.float32)}, "payload": Evil()}, path)


class _Storage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class _Tensor:
    def __init__(self, storage, shape):
        self.storage, self.shape = storage, shape

    def __reduce__(self):
        stride = (1,) if len(self.shape) == 1 else None
        return (torch._utils._rebuild_tensor_v2,
                (self.storage, 0, self.shape, stride, False, collections.OrderedDict()))


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def size_bomb(path):
    # A hand-made torch zip whose pickle declares 10^12 float elements for a
    # 16-byte storage entry: a reader that trusted the pickle would map (or
    # allocate) 4 TB.
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump({"w": _Tensor(_Storage("0", 10**12), (10**12,))})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/data/0", b"\0" * 16)
        z.writestr("archive/version", "3\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "testdata/torch"
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    state_dict_ckpt(p("state_dict.ckpt"))
    plain_pt(p("plain.pt"))
    noncontiguous(p("noncontiguous.pt"))
    legacy(p("legacy.pt"))
    compressed(p("plain.pt"), p("compressed.pt"))
    malicious(p("malicious.ckpt"))
    size_bomb(p("size_bomb.ckpt"))
    total = sum(os.path.getsize(p(f)) for f in os.listdir(out))
    print(f"wrote {len(os.listdir(out))} files, {total} bytes")


if __name__ == "__main__":
    main()
