"""The chaos run's count of a batch's answers (tests/chaos_batch.py): what it calls missing, twice, in the
error file and unknown, and when request_counts agree with the files."""

from dataclasses import asdict

from tests.chaos_batch import BatchReport, count_answers, whole


def answer(custom_id: str) -> dict:
    return {"id": "batch_req_x", "custom_id": custom_id, "response": {"status_code": 200}, "error": None}


def test_every_line_once_in_the_output_file_is_a_whole_batch():
    report = BatchReport(id="batch_1", lines=3, status="completed")
    report.request_counts = {"total": 3, "completed": 3, "failed": 0}
    count_answers(report, [answer(f"chaos-{i}") for i in range(3)], [])
    assert (report.answered, report.missing, report.twice, report.in_error_file, report.unknown) == (3, 0, 0, 0, 0)
    assert report.counts_agree and whole(asdict(report))


def test_a_line_missing_answered_twice_across_files_or_unknown_is_counted_and_not_whole():
    report = BatchReport(id="batch_1", lines=4, status="completed")
    report.request_counts = {"total": 4, "completed": 3, "failed": 1}
    output = [answer("chaos-0"), answer("chaos-1"), answer("stray")]
    errors = [answer("chaos-1")]  # chaos-1 in both files; chaos-2 and chaos-3 in neither
    count_answers(report, output, errors)
    assert (report.answered, report.missing, report.twice, report.in_error_file, report.unknown) == (2, 2, 1, 1, 1)
    assert report.counts_agree  # the counts agree with the files, but the files are wrong
    assert not whole(asdict(report))
    assert whole({})  # a run without a batch
