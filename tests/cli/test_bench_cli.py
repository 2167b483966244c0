from annotator.cli.main import main


def test_synth_then_bench_prints_the_table(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "d"), "--sequences", "1", "--frames", "8"]) == 0
    code = main(["bench", str(tmp_path / "d"), "--backend", "classical", "--protocol",
                 "first-frame"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "J&F" in out and "overall (1 seq)" in out
    overall = next(line for line in out.splitlines() if line.startswith("overall"))
    jf = float(overall.split()[6])
    assert jf > 0.5  # the classical tracker follows an easy synthetic object


def test_bench_rejects_a_bad_protocol(tmp_path, capsys):
    main(["synth", str(tmp_path / "d"), "--sequences", "1", "--frames", "4"])
    code = main(["bench", str(tmp_path / "d"), "--protocol", "clicks:x"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: ")
