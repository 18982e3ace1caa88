"""CLI ``absorbphys train``: every option checked before any work, no file left on failure."""

import functools

import pytest

import absorbphys as ap
from absorbphys.cli import main
from absorbphys.models import training

#: the smallest sweep the training tests use (about a second)
SMALL = ["--sigma-w", "1.0,1.5", "--depth", "1,2", "--epochs", "1", "--n-train", "32",
         "--n-test", "16", "--ntk-examples", "2"]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a sweep starts: validation errors must come before any work."""
    for name in ("trainability_sweep", "critical_sweep", "measure_width_cost"):
        @functools.wraps(getattr(training, name))  # keeps the signature (defaults)
        def refuse(*args, **kwargs):
            pytest.fail("training started before the options were validated")

        monkeypatch.setattr(training, name, refuse)


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("absorbphys train: error: "), err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("extra,needles", [
    (["--plot", "{d}/p.xyz"], ["--plot", "'xyz'", ".png", ".pdf"]),
    (["--critical-sigma-b", "0.1", "--mu-widths", "8"], ["--mu-widths", "at least 2"]),
    (["--critical-sigma-b", "0.1", "--mu-widths", "16,16"], ["--mu-widths", "distinct"]),
    (["--critical-sigma-b", "0.1", "--mu-widths", "8,0"], ["--mu-widths", "[1, 8192]"]),
    (["--critical-sigma-b", "0.1", "--critical-widths", "8,0"],
     ["--critical-widths", "[1, 8192]", "got 0"]),
    (["--critical-sigma-b", "0.1", "--critical-widths", "8,x"], ["--critical-widths"]),
    (["--arch", "cnn", "--critical-sigma-b", "0.1", "--critical-widths", "8,16"],
     ["--critical-widths", "--arch mlp"]),
    (["--arch", "cnn", "--critical-sigma-b", "0.1", "--mu-widths", "8,16"],
     ["--mu-widths", "--arch mlp"]),
    (["--critical-sigma-b", "-1"], ["--critical-sigma-b", "[0, 100]", "got -1"]),
    (["--critical-sigma-b", "0.1,0.1"], ["--critical-sigma-b", "distinct"]),
    (["--activation", "relu", "--critical-sigma-b", "0.1", "--mu-widths", "8,16"],
     ["--mu-widths", "--activation relu", "kappa"]),
    (["--critical-out", "{d}/c.nc"], ["--critical-sigma-b"]),
    (["--critical-sigma-b", "0.1", "--critical-out", "{d}/t.nc"],
     ["--critical-out", "--out", "different"]),
    (["--width", "abc"], ["--width", "[1, 8192]", "'abc'"]),
    (["--width", "0"], ["--width", "[1, 8192]"]),
    (["--lr", "0"], ["--lr", "(0, 1000]"]),
    (["--activation", "foo"], ["--activation", "'tanh'"]),
    (["--arch", "rnn"], ["--arch", "'mlp'"]),
    (["--arch", "cnn", "--kernel-size", "4"], ["--kernel-size", "odd"]),
    (["--ntk-examples", "64"], ["--ntk-examples", "--n-train"]),
    (["--plot", "{d}/missing/p.png"], ["--plot", "does not exist"]),
])
def test_bad_options_fail_before_training_and_leave_no_file(tmp_path, capsys, no_training,
                                                            extra, needles):
    argv = ["train", *SMALL, "--out", str(tmp_path / "t.nc"),
            *[a.replace("{d}", str(tmp_path)) for a in extra]]
    assert main(argv) == 2
    _one_line_error(capsys, *needles)
    assert list(tmp_path.iterdir()) == []


def test_cli_names_the_option_of_a_bad_width_not_another(capsys, no_training):
    assert main(["train", "--width", "abc"]) == 2
    err = _one_line_error(capsys, "--width")
    assert "--critical-widths" not in err


def _outputs(tmp_path):
    return ["--out", str(tmp_path / "t.nc"), "--plot", str(tmp_path / "p.png"),
            "--critical-out", str(tmp_path / "c.nc"), "--critical-sigma-b", "0.3"]


def test_failure_in_the_critical_sweep_leaves_no_file(tmp_path, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("critical sweep failed")

    monkeypatch.setattr(training, "critical_sweep", boom)
    assert main(["train", *SMALL, *_outputs(tmp_path)]) == 2
    _one_line_error(capsys, "critical sweep failed")
    assert list(tmp_path.iterdir()) == []


def test_interrupt_after_the_main_sweep_leaves_no_file(tmp_path, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "critical_sweep", interrupt)
    assert main(["train", *SMALL, *_outputs(tmp_path)]) == 130
    assert list(tmp_path.iterdir()) == []


def test_failed_write_removes_the_outputs_already_written(tmp_path, capsys, monkeypatch):
    save = ap.save
    calls = []

    def save_then_fail(ds, path):
        calls.append(str(path))
        if str(path).endswith("c.nc"):
            raise OSError(28, "No space left on device", str(path))
        return save(ds, path)

    monkeypatch.setattr(ap, "save", save_then_fail)
    monkeypatch.setattr(training, "critical_sweep",
                        lambda *a, **k: training.trainability_sweep([1.0], [1], epochs=0,
                                                                    n_train=8, n_test=4,
                                                                    ntk_examples=0))
    assert main(["train", *SMALL, *_outputs(tmp_path)]) == 2
    _one_line_error(capsys, "No space left on device")
    assert calls == [str(tmp_path / "t.nc"), str(tmp_path / "c.nc")]  # t.nc was written
    assert list(tmp_path.iterdir()) == []


def test_success_writes_every_output(tmp_path, capsys):
    out, plot, crit = tmp_path / "t.nc", tmp_path / "p.svg", tmp_path / "c.nc"
    rc = main(["train", *SMALL, "--out", str(out), "--plot", str(plot),
               "--critical-sigma-b", "0.3,0.6", "--critical-widths", "8,16",
               "--critical-out", str(crit), "--report"])
    text = capsys.readouterr()
    assert rc == 0 and text.err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.nc", "p.svg", "t.nc"]
    assert plot.read_text().lstrip().startswith("<?xml")
    for p in (out, plot, crit):
        assert f"wrote {p}" in text.out
    assert "Verdict" in text.out and "at sigma_w,c" in text.out
    assert ap.load(crit).sizes["width"] == 2
    assert ap.load(out).sizes["sigma_w"] == 2


def test_plot_without_extension_is_png(tmp_path, capsys):
    plot = tmp_path / "phase"
    assert main(["train", *SMALL, "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_grid_syntax_is_the_sweep_syntax(tmp_path, capsys):
    """--grid NAME=SPEC, as for 'absorbphys sweep', is the same sweep as the shorthands."""
    base = [a for a in SMALL]
    for flag in ("--sigma-w", "--depth"):
        if flag in base:
            i = base.index(flag)
            del base[i:i + 2]
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    assert main(["train", *base, "--grid", "sigma_w=1.2:1.6:2", "--grid", "depth=2,3",
                 "--out", str(a), "--quiet"]) == 0
    assert main(["train", *base, "--sigma-w", "1.2,1.6", "--depth", "2,3", "--out", str(b),
                 "--quiet"]) == 0
    capsys.readouterr()
    da, db = ap.load(a), ap.load(b)
    assert list(da.sigma_w.values) == [1.2, 1.6] and list(da.depth.values) == [2, 3]
    assert (da.test_accuracy.values == db.test_accuracy.values).all()
    assert main(["train", *base, "--grid", "sigma_w=1,2", "--sigma-w", "1,2"]) == 2
    assert "given twice" in capsys.readouterr().err
    assert main(["train", *base, "--grid", "lr=0.1,0.2"]) == 2
    assert "cannot be swept by train" in capsys.readouterr().err
