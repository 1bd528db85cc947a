"""Whatever a step logs or raises reaches the event log, the console and the CLI masked."""

import logging

import click
import dagster as dg
from click.testing import CliRunner

from cm_pipelines.cli.errors import RedactingGroup
from cm_pipelines.platform.log_redaction import install_log_redaction, log_redaction_installed

PHONE = "+61 491 570 156"
NATIONAL = "0491570156"
EMAIL = "jane.doe7@example.com"
SECRETS = (PHONE, NATIONAL, EMAIL, "491 570 156", "491570156", "jane.doe7")


def _all_event_text(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.all_logs(run_id)
    return "\n".join(
        repr(record) + (record.user_message or "") + (record.message or "") for record in records
    )


@dg.asset
def leaky_logger(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"calling back {PHONE} about {EMAIL}")
    context.log.warning("number %s and %s", NATIONAL, EMAIL)
    logging.getLogger("cm_pipelines.assets.example").warning(f"module logger saw {NATIONAL}")
    dg.get_dagster_logger().info(f"dagster logger saw {EMAIL}")


@dg.asset
def leaky_failure() -> None:
    try:
        raise KeyError(f"lookup of {NATIONAL} failed")
    except KeyError as exc:
        raise ValueError(f"could not process {PHONE} / {EMAIL}") from exc


def test_installation_is_idempotent_and_keeps_records_usable() -> None:
    install_log_redaction()
    factory = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is factory and log_redaction_installed()
    record = logging.getLogger("anything").makeRecord(
        "anything", logging.INFO, __file__, 1, "x=%s y=%d", (EMAIL, 3), None
    )
    assert record.getMessage() == "x=[email] y=3"


def test_context_log_and_python_loggers_are_masked_in_the_event_log(caplog) -> None:
    install_log_redaction()
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([leaky_logger], instance=instance)
    assert result.success
    text = _all_event_text(instance, result.run_id)
    assert "[phone]" in text and "[email]" in text
    for secret in SECRETS:
        assert secret not in text
    for secret in SECRETS:
        assert secret not in caplog.text


def test_exception_messages_of_failed_steps_are_masked(capsys) -> None:
    install_log_redaction()
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([leaky_failure], instance=instance, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    assert "could not process [phone] / [email]" in error.to_string()
    assert "lookup of [phone] failed" in error.to_string()  # the cause too
    text = _all_event_text(instance, result.run_id)
    captured = capsys.readouterr()
    for secret in SECRETS:
        assert secret not in text
        assert secret not in captured.err and secret not in captured.out


def _cli() -> click.Group:
    @click.group(cls=RedactingGroup)
    def cli() -> None:
        pass

    @cli.command("refuse")
    @click.argument("number")
    def refuse(number: str) -> None:
        raise click.ClickException(f"no subject found for {number}")

    @cli.command("crash")
    def crash() -> None:
        raise RuntimeError(f"unexpected value {EMAIL}")

    @cli.command("pick")
    @click.option("--kind", type=click.Choice(["phone", "email"]))
    def pick(kind: str) -> None:
        click.echo(kind)

    return cli


def test_cli_errors_of_every_kind_are_masked() -> None:
    runner = CliRunner()
    for arguments in (["refuse", PHONE], ["crash"], ["pick", "--kind", EMAIL], [NATIONAL]):
        result = runner.invoke(_cli(), arguments)
        assert result.exit_code != 0
        output = result.output + (result.stderr if result.stderr_bytes else "")
        assert "[phone]" in output or "[email]" in output, arguments
        for secret in SECRETS:
            assert secret not in output, arguments


def test_the_cm_command_uses_the_redacting_group() -> None:
    from cm_pipelines.cli.main import cm

    assert isinstance(cm, RedactingGroup)
    result = CliRunner().invoke(cm, [NATIONAL])
    assert result.exit_code == 2 and NATIONAL not in result.output
