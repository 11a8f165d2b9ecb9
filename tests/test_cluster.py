from pathlib import Path

import yaml

CLUSTER = Path(__file__).resolve().parents[1] / "distributed" / "cluster.yaml"


def test_cluster_yaml_is_valid_for_ray():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load(CLUSTER.read_text())
    validate_config(prepare_config(config))  # raises on a schema error
    gpu = config["available_node_types"]["gpu_worker"]
    assert gpu["resources"]["GPU"] >= 1
    assert any("make setup" in command for command in config["setup_commands"])
