"""A config mistake stops the node at start with the file, the field and what is wrong."""

from pathlib import Path

import pytest

from node.config import load_config, validate_for_network
from node.errors import ConfigError

VALID = """
[node]
name = "beijing"
data_dir = "data/beijing"
key_file = "keys/beijing.pem"
genesis_file = "genesis.json"

[tls]
ca_file = "tls/ca.crt"
certificate_file = "tls/hubs/beijing.crt"
key_file = "tls/hubs/beijing.key"
crl_file = "tls/crl.pem"

[api]
port = 8101

[p2p]
port = 9101

[p2p.peers]
shanghai = "wss://127.0.0.1:9102/p2p"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "beijing.toml"
    path.write_text(text)
    return path


def test_valid_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID), environ={})
    assert config.node.name == "beijing"
    assert config.node.data_dir == tmp_path / "data/beijing"
    assert config.api.port == 8101
    assert config.p2p.peers == {"shanghai": "wss://127.0.0.1:9102/p2p"}
    assert config.tls.crl_file == tmp_path / "tls/crl.pem"
    assert not config.tls.api_plaintext
    assert config.consensus.view_timeout_ms > config.consensus.batch_delay_ms


def test_environment_overrides_a_field(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, VALID), environ={"HUBLEDGER_API_PORT": "8555", "HUBLEDGER_LOG_LEVEL": "debug"}
    )
    assert config.api.port == 8555
    assert config.log.level == "debug"


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        (VALID.replace("port = 8101", 'port = "8101"'), {}, "api.port must be an integer"),
        (VALID.replace("port = 8101", "port = 70000"), {}, "api.port must be between 1 and 65535"),
        (VALID + "\n[consensus]\nbatch_delay_ms = 5000\n", {}, "view_timeout_ms must be longer"),
        (VALID + "\n[consensus]\nwindow_max = 128\n", {}, "window_max must be between 1 and 127"),
        (VALID, {"HUBLEDGER_STORAGE_KEEP_BLOCKS": "199"}, "keep_blocks must be 0 (keep every block) or at"),
        (VALID, {"HUBLEDGER_STORAGE_KEEP_BLOCKS": "-1"}, "keep_blocks must be 0"),
        (VALID, {"HUBLEDGER_STORAGE_STATE_HISTORY_BLOCKS": "-1"}, "state_history_blocks must be between 0"),
        (VALID + "\n[storage]\nstate_history_blocks = 100001\n", {}, "and 100000"),
        (VALID.replace('name = "beijing"', 'name = "beijing"\ncolour = 1'), {}, "unknown field(s): colour"),
        (VALID.replace('key_file = "keys/beijing.pem"\n', ""), {}, "node.key_file is required"),
        (VALID + "\n[logs]\nlevel = 1\n", {}, "unknown field(s): logs"),
        (VALID.replace("[api]", "[api"), {}, "not valid TOML"),
        (VALID, {"HUBLEDGER_BOGUS_PORT": "1"}, "HUBLEDGER_BOGUS_PORT names no config section"),
        (VALID, {"HUBLEDGER_LOG_LEVEL": "loud"}, "log.level must be one of"),
        (VALID.replace("port = 9101", "port = 8101"), {}, "api.port and p2p.port must differ"),
        (VALID.replace("wss://", "ws://"), {}, "p2p.peers URLs must start with wss://"),
        (VALID.replace('crl_file = "tls/crl.pem"\n', ""), {}, "tls.crl_file is required"),
        (VALID, {"HUBLEDGER_TLS_API_PLAINTEXT": "yes"}, "tls.api_plaintext must be true or false"),
        (VALID, {"HUBLEDGER_SNAPSHOTS_KEEP": "0"}, "snapshots.keep must be 1 to 4"),
        (VALID, {"HUBLEDGER_SNAPSHOTS_INTERVAL": "-1"}, "snapshots.interval must not be negative"),
        (VALID, {"HUBLEDGER_SNAPSHOTS_JOIN": "1"}, "snapshots.join must be true or false"),
    ],
)
def test_mistakes_name_the_file_and_field(
    tmp_path: Path, text: str, environ: dict[str, str], expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ)
    assert str(path) in caught.value.message
    assert expected in caught.value.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "absent.toml", environ={})


def test_documented_example_config_loads() -> None:
    example = Path(__file__).parents[3] / "config" / "node.example.toml"
    config = load_config(example, environ={})
    assert config.node.name == "beijing"
    assert set(config.p2p.peers) == {"shanghai", "shenzhen", "hangzhou"}


def test_blocks_a_new_view_could_carry_must_fit_in_one_peer_message(tmp_path: Path) -> None:
    path = write(tmp_path, VALID + "\n[consensus]\nblock_bytes_max = 5242880\nwindow_max = 2\n")
    config = load_config(path, environ={})
    validate_for_network(config, 1, path)  # a quorum of one: 2 x 2 x 2 blocks of 5 MiB, 40 MiB
    with pytest.raises(ConfigError) as caught:
        validate_for_network(config, 4, path)  # a quorum of three: 4 x 2 x 2 blocks, 80 MiB
    assert str(path) in caught.value.message
    assert "a NEW-VIEW may carry 16 blocks" in caught.value.message
