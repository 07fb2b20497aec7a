"""The adapter (toylab/bridge.py): its workarounds hold, its guards fail loudly, and it is the
only code that touches TransformerLens's internals."""

import contextlib
import copy
import re
from pathlib import Path

import pytest
import torch

from toylab import bridge
from toylab.models import build_transformer

OK = dict(n_layers=1, d_model=8, d_head=4, n_heads=2, n_ctx=3, d_vocab=5, d_mlp=8)
ROOT = Path(__file__).resolve().parents[2]
# TransformerLens's internals, and torch's private module tables, as code reaches them
PRIVATE = re.compile(
    r"original_model|original_component|\b_capture\w*|\b_(buffers|parameters|modules)\b"
    r"|\b_(forward|backward)(_pre)?_hooks\b|\.(tok_embed|fc_in|fc_out|ln_out)\b"
)
ALLOWED = {"toylab/bridge.py", "tests/unit/test_bridge.py", "tests/unit/test_upstream.py"}


def private_uses(text: str) -> list[str]:
    return [m.group(0) for m in PRIVATE.finditer(text)]


def test_no_private_name_outside_the_adapter():
    found = {}
    for folder in ("toylab", "notebooks", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel not in ALLOWED and (uses := private_uses(path.read_text())):
                found[rel] = sorted(set(uses))
    assert not found, f"TransformerLens internals outside toylab/bridge.py: {found}"


def test_the_private_name_check_sees_what_it_looks_for():
    code = "m.original_model.head\nh._buffers.pop('b')\nblock._capture_hooks_wired\nn.tok_embed"
    assert private_uses(code) == [
        "original_model",
        "_buffers",
        "_capture_hooks_wired",
        ".tok_embed",
    ]
    assert private_uses("m.named_parameters(); m.named_buffers(); m.blocks[0].attn.q.weight") == []


def test_tokens_follow_the_weights():
    """The bridge passes CPU tokens on as they come; build_transformer moves them to the weights."""
    m = build_transformer(OK)
    seen = []
    m.embed.register_forward_pre_hook(lambda module, args: seen.append(args[0].device))
    torch.nn.Module.to(m, "meta")  # as a module holding the model moves it to a GPU
    with contextlib.suppress(Exception):  # meta weights hold no values: fails after the hook
        m(torch.zeros(1, 3, dtype=torch.long))
    assert seen and seen[0].type == "meta"


def test_a_copy_runs_on_its_own_hooks():
    """A deep copy's forward pass must not write into, or fire hooks of, the model it came from."""
    m = build_transformer(OK)
    tokens = torch.zeros(2, 3, dtype=torch.long)
    m(tokens)  # a block wires its capture hooks on its first forward pass
    twin = copy.deepcopy(m)
    fired = []
    with twin.hooks(fwd_hooks=[("blocks.0.hook_resid_mid", lambda x, hook: fired.append(1))]):
        out = twin(tokens)  # with grad: the residual it captures has a graph
    assert fired, "the copy's own hook fired"
    assert m.blocks[0].attn._captured_pre_ln_residual is None, "nothing written into the original"
    assert torch.equal(out, m(tokens))
    copy.deepcopy(m)  # the original can still be copied
    copy.deepcopy(twin)(tokens)  # and so can the copy, with the fix again


def test_the_copy_fix_fails_loudly_when_transformer_lens_changes():
    """If a release renames what the deepcopy fix rewires, copying says so instead of doing nothing."""
    m = build_transformer(OK)
    m(torch.zeros(1, 3, dtype=torch.long))
    block = next(b for b in m.modules() if hasattr(b, "_capture_hooks_wired"))
    del block._capture_hooks_wired  # as if the attribute were renamed
    with pytest.raises(RuntimeError, match="TransformerLens changed"):
        copy.deepcopy(m)
    m = build_transformer(OK)
    m(torch.zeros(1, 3, dtype=torch.long))
    for sub in m.modules():  # as if the capture hooks were renamed
        for key, fn in list(sub._forward_pre_hooks.items()):
            if getattr(fn, "__name__", "").startswith("_capture"):
                sub._forward_pre_hooks[key] = lambda *a, **k: None
    with pytest.raises(RuntimeError, match="hooks are named _capture"):
        copy.deepcopy(m)


def test_the_head_bias_conversion_fails_loudly_when_transformer_lens_changes(monkeypatch):
    from transformer_lens.model_bridge import TransformerBridge

    boot = TransformerBridge.boot_native

    def boot_with_a_trained_bias(*args, **kwargs):
        model = boot(*args, **kwargs)
        head = bridge._native(model).head.original_component
        head.bias = torch.nn.Parameter(head._buffers.pop("bias"))  # as a release might
        return model

    monkeypatch.setattr(TransformerBridge, "boot_native", boot_with_a_trained_bias)
    with pytest.raises(RuntimeError, match="no longer a buffer"):
        build_transformer(OK)


def test_a_module_attached_to_the_keys_runs_and_is_saved():
    m = build_transformer(OK)
    tokens = torch.zeros(1, 3, dtype=torch.long)
    _, clean = m.run_with_cache(tokens)

    class Double(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, module, args, keys):
            return self.scale * keys

    double = Double()
    bridge.attach_to_keys(m, 0, "twice", double)
    _, cache = m.run_with_cache(tokens)
    assert torch.allclose(cache["blocks.0.attn.hook_k"], 2 * clean["blocks.0.attn.hook_k"])
    assert bridge.attached(m, "twice") is double
    assert any(k.endswith("twice.scale") for k in m.state_dict()), "saved with the model"
    assert any(q is double.scale for q in m.parameters()), "trained with the model"
    with pytest.raises(ValueError, match="already"):
        bridge.attach_to_keys(m, 0, "twice", Double())
    with pytest.raises(ValueError, match="no module named 'triple'"):
        bridge.attached(m, "triple")


def test_the_other_guards_fail_loudly(monkeypatch):
    with pytest.raises(
        RuntimeError, match="TransformerLens changed: a bridge has no original_model"
    ):
        bridge._native(torch.nn.Linear(2, 2))
    m = build_transformer(OK)
    wraps = property(lambda self: torch.nn.Identity())  # as if a release wrapped another module
    monkeypatch.setattr(type(m.blocks[0].attn.k), "original_component", wraps)
    with pytest.raises(RuntimeError, match="not an nn.Linear"):
        bridge.attach_to_keys(m, 0, "extra", torch.nn.Identity())
