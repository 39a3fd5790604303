"""The trainer: it learns, it is reproducible, it stops on divergence, its records are safe."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import TINY

from rnn_tui.engine.config import Config
from rnn_tui.engine.data import load_corpus
from rnn_tui.engine.optim import Adam
from rnn_tui.engine.sampling import distribution, sample_chars, sample_text
from rnn_tui.engine.trainer import Trainer, TrainerDiverged
from rnn_tui.errors import UserError

SMALL = Config(hidden=64, seq_len=16, batch=16, eval_every=50)


@pytest.fixture(scope="module")
def tiny():
    return load_corpus(TINY)


def test_loss_falls_well_below_uniform_guessing(tiny) -> None:
    """If this fails, the model does not learn: a class would watch a flat loss curve."""
    trainer = Trainer(tiny, SMALL)
    uniform = math.log(tiny.vocab.size)  # loss of guessing every character equally
    first = trainer.step().loss
    for _ in range(300):
        record = trainer.step()
    assert first == pytest.approx(uniform, rel=0.1)
    assert record.smooth_loss < 0.6 * uniform
    assert record.val_loss is not None and record.val_loss < 0.7 * uniform
    assert record.chars == 301 * SMALL.batch * SMALL.seq_len


def test_same_seed_same_losses(tiny) -> None:
    """If this fails, a run cannot be repeated: the teacher's rehearsal and the class differ."""
    runs = []
    for _ in range(2):
        trainer = Trainer(tiny, SMALL)
        runs.append([trainer.step().loss for _ in range(20)])
    assert runs[0] == runs[1]
    other = Trainer(tiny, SMALL.with_(seed=5))
    assert [other.step().loss for _ in range(20)] != runs[0]


def test_reset_starts_over(tiny) -> None:
    """If this fails, `r` in the app keeps some learned state and the loss does not restart."""
    trainer = Trainer(tiny, SMALL)
    first = [trainer.step().loss for _ in range(5)]
    for _ in range(50):
        trainer.step()
    trainer.reset()
    assert [trainer.step().loss for _ in range(5)] == first
    assert trainer.steps == 5


def test_records_are_immutable_copies(tiny) -> None:
    """If this fails, the UI could be drawing arrays that training is still writing."""
    trainer = Trainer(tiny, SMALL)
    record = trainer.step()
    assert record.grad_t.shape == (SMALL.seq_len,) == record.grad_last_t.shape
    with pytest.raises(ValueError):
        record.grad_t[0] = 1.0
    with pytest.raises(AttributeError):
        record.loss = 0.0  # type: ignore[misc]
    before = record.grad_t.copy()
    trainer.step()
    np.testing.assert_array_equal(record.grad_t, before)


def test_divergence_is_detected_and_stops_training(tiny) -> None:
    """If this fails, a too-high learning rate runs on NaN weights and draws garbage."""
    trainer = Trainer(tiny, SMALL)
    trainer.step()
    trainer.params["Why"][0, 0] = np.inf  # what an overflowing update leaves behind
    record = trainer.step()
    assert record.diverged and not math.isfinite(record.loss)
    with pytest.raises(TrainerDiverged):
        trainer.step()
    trainer.reset()
    assert not trainer.step().diverged


def _live_copies(trainer: Trainer) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Copies of the trainer's weights and optimizer state."""
    return trainer.snapshot(), {k: v.copy() for k, v in trainer.optimizer.state.items()}


def _assert_unchanged(trainer: Trainer, before: tuple[dict, dict]) -> None:
    """The trainer's weights and optimizer state are finite and equal to `before`'s."""
    params, state = before
    assert params.keys() == trainer.params.keys() and state.keys() == trainer.optimizer.state.keys()
    for live, old in ((trainer.params, params), (trainer.optimizer.state, state)):
        for k, v in live.items():
            assert np.isfinite(v).all(), k
            np.testing.assert_array_equal(v, old[k])


def test_an_update_that_overflows_is_rolled_back(tiny) -> None:
    """If this fails, the step that diverges leaves NaN/inf weights behind, and the next weight
    copy sent to the sampler crashes the app ("Probabilities contain NaN").

    A real overflow, not a simulated one: a first moment near the float32 limit over a second
    moment of 0 (finite, as a checkpoint may hold them) makes Adam's step m / (sqrt(v) + eps)
    overflow to inf, from a finite loss and gradient."""
    trainer = Trainer(tiny, SMALL)
    trainer.step()
    state = trainer.optimizer.state
    state["m.by"][:] = 3e38  # finite, and so is 0.9 * 3e38 + 0.1 g
    state["v.by"][:] = 0  # sqrt(v) + eps = eps: the step is about 3e46, beyond float32
    before = _live_copies(trainer)
    record = trainer.step()
    assert record.diverged and math.isfinite(record.loss) and math.isfinite(record.grad_norm)
    _assert_unchanged(trainer, before)
    with pytest.raises(TrainerDiverged):
        trainer.step()
    _assert_unchanged(trainer, before)


@pytest.mark.parametrize(
    ("optimizer", "where"),
    [
        ("adam", "weight"),
        ("adam", "state"),
        ("adagrad", "weight"),
        ("adagrad", "state"),
        ("sgd", "weight"),
    ],  # fmt: skip
)
def test_an_update_that_leaves_non_finite_values_is_not_kept(tiny, optimizer, where) -> None:
    """If this fails, an update whose weights or optimizer state hold NaN/inf is kept: the
    weights reach the sampler, the state the next checkpoint (which then refuses to save).
    Adagrad's running sum of squares can overflow while the weights stay finite (the step
    g / sqrt(inf) is 0), so the state is checked as well as the weights."""
    trainer = Trainer(tiny, SMALL.with_(optimizer=optimizer))
    trainer.step()
    before = _live_copies(trainer)
    real = trainer.optimizer.update_into
    if optimizer == "adam" and where == "state":
        # Adam's state cannot overflow below a gradient norm of 1e17 (see the test below);
        # above it the trainer checks the state, as here.
        trainer.optimizer.state_follows_weights = lambda norm: False  # type: ignore[method-assign]

    def overflowing(params, grads, lr, out, out_state):  # a real update, one entry spoiled
        real(params, grads, lr, out, out_state)
        if where == "weight":
            out["by"][3] = np.inf
        else:
            next(v for k, v in out_state.items() if k.endswith(".Why"))[1, 2] = np.nan

    trainer.optimizer.update_into = overflowing
    record = trainer.step()
    assert record.diverged
    _assert_unchanged(trainer, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_state_stays_finite_below_its_gradient_bound(dtype) -> None:
    """If this fails, the trainer may keep a non-finite Adam state: it checks only the weights
    when `state_follows_weights` says the moments cannot overflow. From the most extreme finite
    moments and a gradient at the bound they stay finite; past the bound, g^2 overflows."""
    big = np.finfo(np.float32).max  # the float32 limit, about 3.4e38
    params = {"W": np.zeros(4, dtype)}
    opt = Adam(params)
    opt.state["m.W"][:] = [big, -big, big, 0]
    opt.state["v.W"][:] = [big, big, 0, big]
    g = np.array([1e17, 0, 0, 0], dtype)  # global norm 1e17, all of it on the largest m, v
    norm = float(np.sqrt(np.vdot(g, g)))
    assert norm == pytest.approx(1e17, rel=1e-6) and opt.state_follows_weights(norm)
    out, out_state = {"W": np.empty(4, dtype)}, {k: np.empty_like(v) for k, v in opt.state.items()}
    with np.errstate(all="ignore"):
        opt.update_into(params, {"W": g}, 3e-3, out, out_state)
    for k in ("m.W", "v.W"):
        assert np.isfinite(out_state[k]).all(), k
    assert not opt.state_follows_weights(1e20)
    if dtype == np.float32:  # what the bound guards against: g^2 beyond the limit
        with np.errstate(all="ignore"):
            opt.update_into(params, {"W": g * 2e3}, 3e-3, out, out_state)
        assert not np.isfinite(out_state["v.W"]).all()


@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "sgd"])
def test_a_kept_update_is_the_in_place_update(tiny, optimizer) -> None:
    """If this fails, the trainer's update (written into spare arrays, then swapped in) differs
    from the optimizer's plain in-place update of the same gradients."""
    config = SMALL.with_(optimizer=optimizer, eval_every=10**6)
    trainer, plain = Trainer(tiny, config), Trainer(tiny, config)
    for _ in range(3):
        trainer.step()
        X, Y, reset = plain._batch()
        out = plain.model.loss_and_grads(plain.params, X, Y, plain.state, True, reset)
        plain.state = out.state
        grads = out.grads
        norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
        if norm > config.clip:
            for g in grads.values():
                g *= config.clip / norm  # clipping by the global norm
        plain.optimizer.update(plain.params, grads, trainer.last.lr)  # the rate it says it took
    for live, ref in (
        (trainer.params, plain.params),
        (trainer.optimizer.state, plain.optimizer.state),
    ):
        assert live.keys() == ref.keys()
        for k in live:
            np.testing.assert_array_equal(live[k], ref[k], err_msg=k)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_the_start_up_boost_multiplies_the_first_steps_and_then_ends(tiny, optimizer) -> None:
    """If this fails, the first steps do not take `lr_boost` times the rate (so words come no
    sooner), the boost does not fade out in `boost_steps` steps, or the metrics misreport the
    rate a step took."""
    config = SMALL.with_(optimizer=optimizer, lr=2e-3, eval_every=10**6, clip_mode="off")
    boosted = Trainer(tiny, config.with_(lr_boost=3.0, boost_steps=4))
    plain = Trainer(tiny, config.with_(lr=6e-3, lr_boost=1.0))
    assert boosted.step().lr == pytest.approx(6e-3)
    plain.step()
    for k in plain.params:  # step 1 at 3 x 2e-3 is step 1 at 6e-3
        np.testing.assert_allclose(boosted.params[k], plain.params[k], rtol=1e-6, atol=1e-7)
    rates = [boosted.step().lr for _ in range(5)]  # steps 2..6
    assert rates == pytest.approx([5e-3, 4e-3, 3e-3, 2e-3, 2e-3])  # falls in a line, then stays
    assert Trainer(tiny, config.with_(lr_boost=1.0)).step().lr == 2e-3


def test_exact_spectral_norm_is_exact_and_tracking_goes_on_from_it(tiny) -> None:
    """If this fails, a screen held still after W_hh jumped (the pause at a blow-up) shows a
    lagging estimate of ‖W_hh‖₂ beside the exact one, or the estimate lags again after."""
    config = Config(hidden=32, batch=4, seq_len=8, lr=1e-4)
    fresh = Trainer(tiny, config)
    W0 = fresh.params["Whh"].astype(np.float64)
    assert fresh.exact_spectral_norm() == pytest.approx(np.linalg.norm(W0, 2), rel=1e-6)
    assert fresh.last is None  # no step yet: no record to take it
    trainer = Trainer(tiny, config)
    trainer.step()
    trainer.params["Whh"] *= 5  # a jump, as one thrown step makes it
    lagging = trainer.step().spectral_norm
    exact = float(np.linalg.norm(trainer.params["Whh"].astype(np.float64), 2))
    assert lagging is not None and lagging < 0.99 * exact  # one power iteration: behind
    assert trainer.exact_spectral_norm() == pytest.approx(exact, rel=1e-6)
    assert trainer.last.spectral_norm == pytest.approx(exact, rel=1e-6)  # the record takes it
    nxt = trainer.step().spectral_norm  # the weights barely moved (lr 1e-4): on the mark
    exact = float(np.linalg.norm(trainer.params["Whh"].astype(np.float64), 2))
    assert nxt == pytest.approx(exact, rel=1e-3)
    lstm = Trainer(tiny, Config(cell="lstm", hidden=8, batch=4, seq_len=8))
    record = lstm.step()
    assert lstm.exact_spectral_norm() is None and lstm.last is record  # no W_hh: as it was


def test_clipping_by_norm_reports_when_it_fires(tiny) -> None:
    """If this fails, the 'clipped' indicator lies about what happened to the gradient."""
    trainer = Trainer(tiny, SMALL.with_(clip=1e-6))
    record = trainer.step()
    assert record.clipped and record.grad_norm > 1e-6
    trainer = Trainer(tiny, SMALL.with_(clip=1e6))
    assert not trainer.step().clipped


def test_corpus_too_short_for_the_batch_is_a_user_error(text_file) -> None:
    """If this fails, a short file with a big batch crashes with an index error."""
    corpus = load_corpus(text_file("hello world, " * 20))
    with pytest.raises(UserError, match="training characters"):
        Trainer(corpus, Config(batch=64, seq_len=32))


def test_sampler_reads_a_copy_of_the_weights(tiny) -> None:
    """If this fails, sampling while training reads half-updated weights."""
    trainer = Trainer(tiny, SMALL)
    for _ in range(30):
        trainer.step()
    gen = sample_chars(trainer.model, trainer.params, tiny.vocab, seed=3)
    expected = sample_text(trainer.model, trainer.snapshot(), tiny.vocab, 50, seed=3)
    for _ in range(20):
        trainer.step()  # the live weights move on
    got = "".join(next(gen).char for _ in range(50))
    assert got == expected


def test_sampled_char_reports_its_distribution(tiny) -> None:
    """If this fails, the next-character view shows probabilities that do not add up."""
    trainer = Trainer(tiny, SMALL)
    ch = next(sample_chars(trainer.model, trainer.params, tiny.vocab, prime="The", seed=0))
    assert ch.probs.shape == (tiny.vocab.size,)
    assert ch.probs.sum() == pytest.approx(1.0)
    assert ch.char == tiny.vocab.chars[ch.index] and ch.hidden.shape == (SMALL.hidden,)


def test_sampled_hidden_state_is_the_one_behind_its_distribution(tiny) -> None:
    """If this fails, the neuron view colours a character by a state that did not choose it:
    after a reset character the sampler reported the zeroed state, not the one that gave the
    logits."""
    trainer = Trainer(tiny, SMALL)
    params = trainer.params
    sampler = sample_chars(trainer.model, params, tiny.vocab, seed=1, reset_at=" e")
    chars = [next(sampler) for _ in range(600)]
    after_reset = 0
    for prev, ch in itertools.pairwise(chars):
        logits = params["Why"] @ ch.hidden + params["by"]  # y = W_hy h + b_y
        np.testing.assert_allclose(ch.probs, distribution(logits, 0.8), rtol=1e-4, atol=1e-7)
        after_reset += prev.char in " e"
    assert after_reset > 10  # the case that went wrong was really exercised


def test_temperature_and_top_k() -> None:
    """If this fails, `t`/`T` and --top-k do not change what gets sampled the way they say."""
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    cold, hot = distribution(logits, 0.5), distribution(logits, 2.0)
    assert cold[0] > distribution(logits, 1.0)[0] > hot[0]
    top2 = distribution(logits, 1.0, top_k=2)
    assert top2[2] == 0 and top2[3] == 0 and top2.sum() == pytest.approx(1.0)


def test_blas_is_pinned_to_one_thread(tmp_path) -> None:
    """If this fails, OpenBLAS threads fight the UI thread and training slows several-fold."""
    import subprocess
    import sys

    code = (
        "import numpy, threadpoolctl\n"
        "from rnn_tui.engine.data import load_corpus\n"
        "from rnn_tui.engine.trainer import Trainer\n"
        "from rnn_tui.engine.config import Config\n"
        f"Trainer(load_corpus({str(TINY)!r}), Config())\n"
        "print([i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api']=='blas'])"
    )
    env = {**__import__("os").environ, "OPENBLAS_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    threads = eval(out.stdout)
    assert threads and all(n == 1 for n in threads)


def test_spectral_norm_tracks_the_recurrent_matrix(tiny) -> None:
    """If this fails, the gradient pane shows a wrong ||W_hh||, and the lesson "below 1
    vanishes, above 1 explodes" is taught with a false number."""
    trainer = Trainer(tiny, SMALL.with_(rec_gain=1.5))
    for _ in range(40):
        record = trainer.step()
    exact = np.linalg.norm(trainer.params["Whh"].astype(np.float64), 2)
    assert record.spectral_norm == pytest.approx(exact, rel=0.02)


def test_reset_at_with_lines_longer_than_a_stream_still_trains(text_file) -> None:
    """If this fails, --reset-at refuses a corpus as "too short" that trains without it: with
    lines longer than the text's B-th part, two streams moved to the same line start and one
    was left with nothing."""
    line = "".join(chr(ord("a") + i % 26) for i in range(199)) + "\n"
    corpus = load_corpus(text_file(line * 60))  # 12,000 characters, 200 per line
    trainer = Trainer(corpus, Config(hidden=8, seq_len=32, batch=100, reset_at="\n"))
    assert trainer.segment >= 33
    X, _, reset = trainer._batch()
    newline = corpus.vocab.chars.index("\n")
    np.testing.assert_array_equal(reset[:, 1:], X[:, :-1] == newline)  # resets still happen
    assert math.isfinite(trainer.step().loss)


def test_reset_at_newline_starts_every_line_afresh(text_file) -> None:
    """If this fails, the long-lag lesson leaks state from one line into the next, and the
    windows do not line up with the lines."""
    from rnn_tui.engine.longlag import line_length, make_lines

    corpus = load_corpus(text_file(make_lines(200, lag=20)))
    T = line_length(20)
    trainer = Trainer(corpus, Config(hidden=16, seq_len=T, batch=4, reset_at="\n"))
    newline = corpus.vocab.chars.index("\n")
    assert all(corpus.train[s - 1] == newline for s in trainer.starts)
    for _ in range(3):
        X, _, reset = trainer._batch()
        assert reset is not None and reset.shape == X.shape
        assert np.all(reset[:, 0])  # every window starts a line, with a fresh state
        np.testing.assert_array_equal(reset[:, 1:], X[:, :-1] == newline)
        assert np.all(X[:, -1] == newline) and not reset[:, 1:].any()  # one line per window
