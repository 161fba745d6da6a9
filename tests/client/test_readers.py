"""Input files as records, the idempotency keys of the jobs, and the results file a rerun reads."""

import json

import pytest

from inference_client.readers import InputError, Record, read_records
from inference_client.submit import Fatal, ResultsFile, batch_key


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_plain_lines_are_one_input_each_keeping_their_line_numbers_and_skipping_blank_ones(tmp_path):
    path = write(tmp_path, "in.txt", "first\n\n  second, with a comma  \n\n")
    assert read_records(path) == [Record(1, text="first"), Record(3, text="  second, with a comma  ")]


def test_jsonl_takes_text_or_inputs_and_ignores_the_callers_other_fields(tmp_path):
    lines = [{"id": 7, "text": "a"}, {"inputs": "b"}, "c", {"text": "d", "label": "x"}]
    path = write(tmp_path, "in.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    assert [(r.line, r.text) for r in read_records(path)] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_jsonl_lines_with_a_model_parameters_or_a_list_are_whole_request_bodies(tmp_path):
    lines = [{"inputs": ["x", "y"]}, {"text": "z", "parameters": {"normalize": False}}, {"inputs": "w", "model": "m"}]
    path = write(tmp_path, "in.jsonl", "\n".join(json.dumps(x) for x in lines))
    assert read_records(path) == [
        Record(1, body={"inputs": ["x", "y"]}),
        Record(2, body={"inputs": "z", "parameters": {"normalize": False}}),
        Record(3, body={"inputs": "w", "model": "m"}),
    ]


def test_jsonl_field_names_the_text(tmp_path):
    path = write(tmp_path, "in.ndjson", '{"review": "good", "text": "ignored"}\n')
    assert read_records(path, field="review") == [Record(1, text="good")]
    with pytest.raises(InputError, match=r"in.ndjson:1: no field 'body' \(fields: review, text\)"):
        read_records(path, field="body")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "a"}\n{"text": \n', r"in.jsonl:2: not JSON"),
        ('{"label": "a"}\n', r"in.jsonl:1: no `text` or `inputs` field"),
        ("[1, 2]\n", r"in.jsonl:1: expected a JSON object or string, got list"),
    ],
)
def test_a_bad_jsonl_line_is_named_by_its_number(tmp_path, content, message):
    with pytest.raises(InputError, match=message):
        read_records(write(tmp_path, "in.jsonl", content))


def test_csv_takes_the_text_column_or_the_one_named_and_numbers_rows_by_their_line(tmp_path):
    path = write(tmp_path, "in.csv", 'id,text,lang\n1,"Bom dia, tudo bem?",pt\n\n2,Good morning,en\n')
    assert read_records(path) == [Record(2, text="Bom dia, tudo bem?"), Record(4, text="Good morning")]
    assert [r.text for r in read_records(path, column="lang")] == ["pt", "en"]


def test_a_csv_column_that_does_not_exist_is_an_error_listing_the_columns(tmp_path):
    path = write(tmp_path, "in.csv", "id,review\n1,good\n")
    with pytest.raises(InputError, match=r"no column 'text' \(columns: id, review\)"):
        read_records(path, column="text")
    with pytest.raises(InputError, match=r"which column\? name one with --column \(columns: id, review\)"):
        read_records(path)


def test_tsv_and_a_single_column_csv_need_no_column_name(tmp_path):
    assert read_records(write(tmp_path, "in.tsv", "sentence\nhello, world\n")) == [Record(2, text="hello, world")]
    path = write(tmp_path, "in.dat", "words\tcount\nhi, there\t1\n")
    assert read_records(path, "tsv", column="words") == [Record(2, text="hi, there")]


def test_a_missing_file_or_one_that_is_not_utf8_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_records(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("São Paulo\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_records(tmp_path / "latin1.txt")


def test_the_key_of_a_job_is_the_same_for_the_same_records_and_differs_when_anything_sent_differs():
    records = [Record(1, text="a"), Record(2, text="b")]
    key = batch_key("m", {"normalize": True}, records)
    assert key == batch_key("m", {"normalize": True}, [Record(1, text="a"), Record(2, text="b")])
    assert key.startswith("submit-") and len(key) <= 255 and key.isprintable()
    assert len({
        key,
        batch_key("other", {"normalize": True}, records),
        batch_key("m", {"normalize": False}, records),
        batch_key("m", None, records),
        batch_key("m", {"normalize": True}, [Record(1, text="a"), Record(2, text="c")]),
        batch_key("m", {"normalize": True}, [Record(1, text="a"), Record(3, text="b")]),
        batch_key("m", {"normalize": True}, records[:1]),
    }) == 7  # fmt: skip


def test_the_results_file_knows_the_lines_done_and_drops_a_last_line_cut_short(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"line": 1, "output": {}}\n{"line": 3, "error": "422 bad"}\n{"line": 4, "outp')
    results = ResultsFile(path)
    results.load({1, 3, 4})
    assert results.done == {1, 3}
    assert results.failures == [(3, "422 bad")]
    assert path.read_text().endswith('"422 bad"}\n')


def test_a_results_file_of_another_input_is_refused(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"line": 9, "output": {}}\n')
    with pytest.raises(Fatal, match="line 9, which is not in the input"):
        ResultsFile(path).load({1, 2})
