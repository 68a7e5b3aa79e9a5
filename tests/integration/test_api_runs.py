"""Running flows through the EnOS API, in-process: real scheduler thread, real task processes.

The clock is a FakeClock: scheduling decisions (repeat rule, future triggers,
retry times) move only when the test moves it. Waiting for a real process to
finish is bounded polling of the API.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.integration.conftest import Api, World, simple_flow

FINAL = {1, -1, 8, 10, 7, 4}


def epoch_ms(world: World, delta: timedelta = timedelta(0)) -> int:
    return int((world.clock.now() + delta).timestamp() * 1000)


def wait_final(api: Api, instance_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = api.ok("GET", "flowInstances", "get", flowInstId=instance_id)
        if data["status"] in FINAL and data["endTime"]:
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"instance did not end: {data['statusDesc']} {data['graph']}")
        time.sleep(0.02)


def tasks_of(instance: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["taskName"]: t for t in json.loads(instance["graph"])["tasks"]}


def trigger(world: World, flow_id: int, **extra: Any) -> str:
    body = {"flowId": flow_id, "triggerTime": epoch_ms(world), **extra}
    data = world.api.ok("POST", "flows", "trigger", body)
    instance_id: str = data["flowInstanceId"]
    return instance_id


def log_of(api: Api, task_instance_id: str, **query: Any) -> str:
    text: str = api.ok("GET", "taskInstances", "getLog", taskInstId=task_instance_id, **query)["log"]
    return text


def test_a_chain_runs_with_parameters_and_logs(world: World) -> None:
    api = world.api
    flow = simple_flow("a", "b", relations=(("a", "b"),), parameters='[{"key":"WHO","value":"world"}]')
    flow["tasks"][0]["cmd"] = "echo hello ${WHO} ${cal_dt} ${ncal_dt8}; echo oops >&2"
    flow["tasks"][1]["cmd"] = 'echo "env=$WHO id=$FLOWYARD_INSTANCE_ID"'
    flow_id = api.import_flow(flow, "chain")
    instance_id = trigger(world, flow_id)
    assert instance_id == f"{flow_id}-202611220800" + "00"  # UTC minute of the trigger time
    done = wait_final(api, instance_id)
    assert (done["status"], done["statusDesc"]) == (1, "SUCCESS")
    assert done["calDt"] == "2026-11-21"  # trigger date in Asia/Shanghai minus one day
    tasks = tasks_of(done)
    assert {t["status"] for t in tasks.values()} == {"SUCCESS"}
    first = log_of(api, tasks["a"]["taskInstId"])
    assert "run  num:\t1" in first and f"instance:\t{tasks['a']['taskInstId']}" in first
    assert "hello world 2026-11-21 20261122\n" in first and "oops\n" in first
    assert first.index("cmdline:") < first.index("hello world")
    assert f"env=world id={instance_id}" in log_of(api, tasks["b"]["taskInstId"])
    task = api.ok("GET", "taskInstances", "get", taskInstId=tasks["a"]["taskInstId"])
    assert (task["status"], task["stsDesc"], task["runNum"], task["flowInstId"]) == (
        1,
        "SUCCESS",
        1,
        instance_id,
    )
    assert task["cmd"].startswith("echo hello world 2026-11-21")
    assert log_of(api, tasks["a"]["taskInstId"], maxLength=10) == first[:10]
    assert log_of(api, tasks["a"]["taskInstId"], maxLength="") == first


def test_a_failure_fails_the_instance_and_skips_what_never_ran(world: World) -> None:
    api = world.api
    flow = simple_flow("a", "bad", "after", relations=(("a", "bad"), ("bad", "after")))
    flow["tasks"][1]["cmd"] = "echo failing; exit 3"
    flow_id = api.import_flow(flow, "failing")
    done = wait_final(api, trigger(world, flow_id))
    assert done["statusDesc"] == "FAIL"
    tasks = tasks_of(done)
    assert (tasks["a"]["status"], tasks["bad"]["status"], tasks["after"]["status"]) == (
        "SUCCESS",
        "FAIL",
        "SKIP",
    )
    detail = api.ok("GET", "taskInstances", "get", taskInstId=tasks["bad"]["taskInstId"])
    assert detail["status"] == -1
    assert "failing" in log_of(api, tasks["bad"]["taskInstId"])


def test_retries_then_success(world: World, tmp_path: Path) -> None:
    api = world.api
    marker = tmp_path / "marker"
    flow = simple_flow("flaky")
    flow["tasks"][0].update(
        cmd=f"if [ -f {marker} ]; then echo second; else touch {marker}; exit 1; fi", retryLimit=2
    )
    flow_id = api.import_flow(flow, "flaky")
    done = wait_final(api, trigger(world, flow_id))
    assert done["statusDesc"] == "SUCCESS"
    task_inst = tasks_of(done)["flaky"]["taskInstId"]
    detail = api.ok("GET", "taskInstances", "get", taskInstId=task_inst)
    assert (detail["runNum"], detail["recallNum"], detail["recallLimit"]) == (2, 1, 2)
    text = log_of(api, task_inst)
    assert "run  num:\t1" in text and "run  num:\t2" in text and text.rstrip().endswith("second")


def test_timeout_kills_and_reports(world: World) -> None:
    api = world.api
    flow = simple_flow("slow")
    flow["tasks"][0].update(cmd="sleep 30", timeout=1)
    flow_id = api.import_flow(flow, "slow")
    started = time.monotonic()
    done = wait_final(api, trigger(world, flow_id), timeout=20)
    assert time.monotonic() - started < 15
    assert done["statusDesc"] == "FAIL"
    task = api.ok("GET", "taskInstances", "get", taskInstId=tasks_of(done)["slow"]["taskInstId"])
    assert (task["stsDesc"], task["isTimeout"]) == ("TIMEOUT", True)


def test_unknown_variable_fails_the_task_with_the_reason_in_its_log(world: World) -> None:
    api = world.api
    flow = simple_flow("a")
    flow["tasks"][0]["cmd"] = "echo ${no_such_thing}"
    flow_id = api.import_flow(flow, "unknown-var")
    done = wait_final(api, trigger(world, flow_id))
    assert done["statusDesc"] == "FAIL"
    assert "no_such_thing" in log_of(api, tasks_of(done)["a"]["taskInstId"])


def test_trigger_from_task_runs_it_and_downstream_over_rerun_edges(world: World) -> None:
    api = world.api
    flow = simple_flow("a", "b", "c", "d", relations=(("a", "b"), ("b", "c")))
    flow["relations"].append({"sourceTaskName": "b", "targetTaskName": "d", "rerun": False})
    flow_id = api.import_flow(flow, "partial")
    graph = json.loads(api.ok("GET", "flows", "get", flowId=flow_id)["graph"])
    b_id = next(t["taskId"] for t in graph["tasks"] if t["taskName"] == "b")
    data = api.ok(
        "POST",
        "flows",
        "triggerFromTask",
        {"flowId": flow_id, "taskId": b_id, "triggerTime": epoch_ms(world)},
    )
    done = wait_final(api, data["flowInstanceId"])
    statuses = {name: t["status"] for name, t in tasks_of(done).items()}
    assert statuses == {"a": "SKIP", "b": "SUCCESS", "c": "SUCCESS", "d": "SKIP"}
    assert done["statusDesc"] == "SUCCESS"
    answer = api.call(
        "POST", "flows", "triggerFromTask", {"flowId": flow_id, "taskId": 1, "triggerTime": epoch_ms(world)}
    )
    assert answer["code"] == 62102 and "do not trigger the same workflow repeatedly" in answer["msg"]
    assert (
        api.call("POST", "flows", "triggerFromTask", {"flowId": flow_id}, version="v2.0")["status"] == 62102
    )


def test_update_and_trigger_overrides_parameters_for_one_instance(world: World) -> None:
    api = world.api
    flow = simple_flow("a", parameters='[{"key":"X","value":"stored"},{"key":"Y","value":"kept"}]')
    flow["tasks"][0]["cmd"] = "echo X=${X} Y=${Y} Z=${Z}"
    flow_id = api.import_flow(flow, "override")
    body = {
        "flowId": flow_id,
        "triggerTime": epoch_ms(world),
        "parameters": '[{"key":"X","value":"new"},{"key":"Z","value":"z"}]',
    }
    instance_id = api.ok("POST", "flows", "updateAndTrigger", body)["flowInstanceId"]
    done = wait_final(api, instance_id)
    assert "X=new Y=kept Z=z" in log_of(api, tasks_of(done)["a"]["taskInstId"])
    assert json.loads(done["parameters"]) == [
        {"key": "X", "value": "new"},
        {"key": "Y", "value": "kept"},
        {"key": "Z", "value": "z"},
    ]
    stored = json.loads(api.ok("GET", "flows", "export", flowId=flow_id)["parameters"])
    assert stored == [{"key": "X", "value": "stored"}, {"key": "Y", "value": "kept"}]


def test_repeat_rule_queueing_and_cancel(world: World) -> None:
    api = world.api
    flow = simple_flow("long")
    flow["tasks"][0]["cmd"] = "sleep 30"
    flow_id = api.import_flow(flow, "long")
    first = trigger(world, flow_id)
    again = api.call("POST", "flows", "trigger", {"flowId": flow_id, "triggerTime": epoch_ms(world)})
    assert again["code"] == 62102 and "repeatedly in 1 minute" in again["msg"]
    world.clock.advance(timedelta(seconds=61))
    second = trigger(world, flow_id)
    deadline = time.monotonic() + 10
    while api.ok("GET", "flowInstances", "get", flowInstId=first)["statusDesc"] != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    queued = api.ok("GET", "flowInstances", "get", flowInstId=second)
    assert queued["statusDesc"] == "INIT"  # one running instance per flow: the second waits
    started = time.monotonic()
    assert api.ok("POST", "flowInstances", "cancel", {"flowInstId": first}) == ""
    done = wait_final(api, first, timeout=15)
    assert time.monotonic() - started < 10
    assert done["statusDesc"] == "CANCEL" and tasks_of(done)["long"]["status"] == "CANCEL"
    assert api.ok("POST", "flowInstances", "cancel", {"flowInstId": second}) == ""
    assert wait_final(api, second)["statusDesc"] == "CANCEL"
    assert api.call("POST", "flowInstances", "cancel", {"flowInstId": "nope"})["msg"] == "Instance not found"


def test_future_trigger_time_waits_for_it(world: World) -> None:
    api = world.api
    flow_id = api.import_flow(simple_flow("a"), "later")
    instance_id = trigger(world, flow_id, triggerTime=epoch_ms(world, timedelta(hours=1)))
    time.sleep(0.3)  # give the scheduler a chance to (wrongly) start it
    assert api.ok("GET", "flowInstances", "get", flowInstId=instance_id)["statusDesc"] == "INIT"
    world.clock.advance(timedelta(hours=1, seconds=1))
    world.app.state.scheduler.wake()
    assert wait_final(api, instance_id)["statusDesc"] == "SUCCESS"


def test_no_task_and_permissions(world: World) -> None:
    api = world.api
    empty = api.import_flow({"cycle": "D", "cron": "0 0 0 * * ? *", "tasks": []}, "empty")
    answer = api.call("POST", "flows", "trigger", {"flowId": empty, "triggerTime": epoch_ms(world)})
    assert (answer["code"], answer["msg"]) == (62104, "This workflow has no task. You cannot trigger it.")
    answer = api.call(
        "POST", "flows", "trigger", {"flowId": empty, "triggerTime": epoch_ms(world)}, version="v2.0"
    )
    assert answer["msg"] == "This workflow has no task, you cannot trigger it!"
    flow_id = api.import_flow(simple_flow("a", visitors="vic"), "guarded")
    instance_id = trigger(world, flow_id)
    vic = api.as_(world.new_org_user("vic", world.admin.org_id))
    assert (
        vic.call("POST", "flows", "trigger", {"flowId": flow_id, "triggerTime": epoch_ms(world)})["code"]
        == 62103
    )
    assert vic.call("POST", "flowInstances", "cancel", {"flowInstId": instance_id})["code"] == 62103
    assert vic.ok("GET", "flowInstances", "get", flowInstId=instance_id)["hasEditPri"] is False
    outsider = api.as_(world.new_org_user("olga"))
    assert outsider.call("GET", "flowInstances", "get", flowInstId=instance_id)["msg"] == "Instance not found"
    task_inst = tasks_of(wait_final(api, instance_id))["a"]["taskInstId"]
    assert (
        outsider.call("GET", "taskInstances", "getLog", taskInstId=task_inst)["msg"] == "Instance not found"
    )
    assert outsider.ok("POST", "flowInstances", "search", {"type": 0})["count"] == 0
    assert api.call("GET", "taskInstances", "get", version="v2.0", taskInstId=task_inst)["status"] == 62102


def test_list_flow_instances_filters_and_pages(world: World) -> None:
    api = world.api
    ok_id = api.import_flow(simple_flow("a"), "listed-ok")
    bad = simple_flow("a")
    bad["tasks"][0]["cmd"] = "exit 1"
    bad_id = api.import_flow(bad, "listed-bad")
    first = trigger(world, ok_id)
    wait_final(api, first)
    world.clock.advance(timedelta(minutes=2))
    second = trigger(world, ok_id)
    failed = trigger(world, bad_id)
    wait_final(api, second)
    wait_final(api, failed)
    everything = api.ok("POST", "flowInstances", "search", {"type": 0, "status": "", "owner": ""})
    assert everything["count"] == 3
    assert [i["instanceId"] for i in everything["flowInsts"]] == [failed, second, first] or [
        i["instanceId"] for i in everything["flowInsts"]
    ] == [second, failed, first]
    assert all("isCancelled" in i and "calDt" not in i for i in everything["flowInsts"])
    only_failed = api.ok("POST", "flowInstances", "search", {"type": 0, "status": "-1"})
    assert [i["instanceId"] for i in only_failed["flowInsts"]] == [failed]
    assert api.ok("POST", "flowInstances", "search", {"type": 0, "status": 1})["count"] == 2
    assert api.ok("POST", "flowInstances", "search", {"type": 1})["count"] == 0
    assert api.ok("POST", "flowInstances", "search", {"type": 0, "expression": "BAD"})["count"] == 1
    t_first = int(world.clock.now().timestamp() * 1000) - 120_000
    window = {"type": 0, "fromTriggerTime": t_first, "toTriggerTime": t_first + 1}
    assert [i["instanceId"] for i in api.ok("POST", "flowInstances", "search", window)["flowInsts"]] == [
        first
    ]
    window = {"type": 0, "startTriggerTime": t_first + 1, "endTriggerTime": t_first + 10**9}
    assert api.ok("POST", "flowInstances", "search", window)["count"] == 2
    page = {
        "type": 0,
        "pagination": {"pageNo": 2, "pageSize": 2, "sorters": [{"field": "trigger_time", "order": "ASC"}]},
    }
    paged = api.ok("POST", "flowInstances", "search", page)
    assert paged["count"] == 3 and len(paged["flowInsts"]) == 1
    page["pagination"]["pageNo"] = 1
    v20 = api.ok("POST", "flowInstances", "search", page, version="v2.0")
    assert len(v20["flowInsts"]) == 1
    bad_sort = {"type": 0, "pagination": {"pageNo": 1, "pageSize": 2, "sorters": [{"field": "flowName"}]}}
    assert (
        api.call("POST", "flowInstances", "search", bad_sort)["msg"]
        == "The sorters field parameter is invalid"
    )
    assert (
        api.call("POST", "flowInstances", "search", bad_sort, version="v2.0")["msg"]
        == "illegal sorted by field"
    )
    assert api.call("POST", "flowInstances", "search", {"type": 0, "status": "1,x"})["code"] == 62102
    assert api.call("POST", "flowInstances", "search", {})["msg"] == "Invalid parameter: type is required"


def test_multiple_task_mode_runs_one_sub_task_per_key(world: World, tmp_path: Path) -> None:
    api = world.api
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    flow = simple_flow("fan", "file", "bad")
    # Each sub-task records when it started and ended, so the test can check maxParallel.
    cmd = f'echo "start $(date +%s%N)" > {stamps}/$FLOWYARD_DISTRIBUTION_KEY; sleep 0.3; echo "got $FLOWYARD_DISTRIBUTION_KEY"; echo "end $(date +%s%N)" >> {stamps}/$FLOWYARD_DISTRIBUTION_KEY'
    flow["tasks"][0].update(
        cmd=cmd,
        runMode={
            "taskMode": 2,
            "cpu": 0.5,
            "memory": 0.5,
            "maxParallel": 2,
            "keyType": 2,
            "content": "k1,k2\nk3, k4",
        },
    )
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("alpha\n\nbeta\n")
    flow["tasks"][1].update(
        cmd="echo file-key=$FLOWYARD_DISTRIBUTION_KEY",
        runMode={"taskMode": 2, "maxParallel": 5, "keyType": 1, "path": str(keys_file)},
    )
    flow["tasks"][2].update(
        cmd='test "$FLOWYARD_DISTRIBUTION_KEY" != "x2"',
        runMode={"taskMode": 2, "maxParallel": 3, "keyType": 2, "content": "x1,x2,x3"},
    )
    flow_id = api.import_flow(flow, "multi")
    done = wait_final(api, trigger(world, flow_id))
    tasks = tasks_of(done)
    assert (tasks["fan"]["status"], tasks["file"]["status"], tasks["bad"]["status"]) == (
        "SUCCESS",
        "SUCCESS",
        "FAIL",
    )
    fan_log = log_of(api, tasks["fan"]["taskInstId"])
    for key in ("k1", "k2", "k3", "k4"):
        assert f"--- key {key}: exit 0" in fan_log and f"got {key}" in fan_log
    assert fan_log.index("--- key k1") < fan_log.index("--- key k4")  # outputs in key order
    spans = []
    for key in ("k1", "k2", "k3", "k4"):
        lines = dict(line.split() for line in (stamps / key).read_text().splitlines())
        spans.append((int(lines["start"]), int(lines["end"])))
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2  # maxParallel 2: never more than two keys at once
    assert "file-key=alpha" in log_of(api, tasks["file"]["taskInstId"])
    bad_log = log_of(api, tasks["bad"]["taskInstId"])
    assert "--- key x2: exit 1 (failed)" in bad_log and "2 of 3 sub-tasks succeeded" in bad_log
    detail = api.ok("GET", "taskInstances", "get", taskInstId=tasks["fan"]["taskInstId"])
    assert detail["cmd"].startswith("echo") and json.loads(detail["runMode"])["taskMode"] == 2


def test_dataworks_expressions_as_parameter_values(world: World) -> None:
    api = world.api
    params = [
        {"key": "BIZ", "value": "$bizdate"},
        {"key": "YESTERDAY", "value": "$[yyyy-mm-dd-1]"},
        {"key": "HOUR_AGO", "value": "$[hh24mi-1/24]"},
        {"key": "LAST_MONTH", "value": "$[add_months(yyyymm,-1)]"},
    ]
    flow = simple_flow("a", parameters=json.dumps(params))
    flow["tasks"][0]["cmd"] = "echo ${BIZ} ${YESTERDAY} ${HOUR_AGO} ${LAST_MONTH}"
    flow_id = api.import_flow(flow, "dw-params")
    done = wait_final(api, trigger(world, flow_id))
    # Trigger 2026-11-22 08:00 UTC = 16:00 in Asia/Shanghai (the world's server zone).
    assert "20261121 2026-11-21 1500 202610" in log_of(api, tasks_of(done)["a"]["taskInstId"])
