"""Config loading, validation, `--set` overrides and grid expansion (no TensorFlow)."""

import pytest

from experiments import config
from experiments.config import ConfigError, expand_grid, load_config, parse_override

BASE = """\
description: A tiny test experiment.
task: adding
grid:
  model: [vanilla, lstm]
  length: [5, 10]
  seed: [0, 1]
units: 16
profiles:
  smoke:
    grid: {length: [5]}
    epochs: 1
  quick: {}
  full: {units: 128}
"""


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "tiny.yaml").write_text(BASE)
    return tmp_path


def write(config_dir, name, text):
    (config_dir / f"{name}.yaml").write_text(text)
    return name


def test_defaults_file_and_profile_merge(config_dir):
    cfg = load_config("tiny", "smoke", config_dir=config_dir)
    # Profile replaces only the grid axis it names; the file's other axes stay.
    assert cfg.settings.grid == {"model": ["vanilla", "lstm"], "length": [5], "seed": [0, 1]}
    assert cfg.hyperparameters.epochs == 1  # profile
    assert cfg.hyperparameters.units == 16  # file
    assert cfg.hyperparameters.lr == config.DEFAULTS["lr"] == 1e-3  # default
    assert (
        cfg.hyperparameters.clipnorm == 1.0
        and cfg.hyperparameters.optimizer == "adam"
        and cfg.hyperparameters.jit_compile is True
    )
    assert cfg.settings.report == "breakdown" and cfg.settings.probes == []
    assert load_config("tiny", "full", config_dir=config_dir).hyperparameters.units == 128
    assert load_config("tiny", config_dir=config_dir).profile == "quick"


def test_every_key_is_declared_once_with_its_default_check_doc_and_reader():
    import dataclasses

    from experiments.config import settings

    fields = [
        *dataclasses.fields(config.SweepSettings),
        *dataclasses.fields(config.Hyperparameters),
    ]
    names = [field.name for field in fields]
    assert len(names) == len(set(names)) and list(config.DEFAULTS) == names
    for field in fields:
        assert callable(field.metadata["check"]), field.name
        assert field.metadata["doc"] and "\n" not in field.metadata["doc"], field.name
        assert field.metadata["part"] in (
            settings.SWEEP,
            settings.EXECUTION,
            settings.MODEL,
            settings.TRAINING,
        )
        # The declared default passes its own check unchanged.
        default = config.DEFAULTS[field.name]
        assert field.metadata["check"]("defaults", field.name, default) == default, field.name
    assert set(config.HYPERPARAMETER_KEYS) == {
        f.name for f in dataclasses.fields(config.Hyperparameters)
    }


def test_the_set_help_and_the_key_table_list_every_key():
    from experiments.__main__ import main

    help_text = config.key_help()
    table = config.key_table_markdown()
    for key in [*config.DEFAULTS, "grid.model", "grid.length", "grid.seed"]:
        assert f"  {key} " in help_text, key
        assert f"| `{key}` |" in table, key
    assert "[0.001]" in help_text  # lr's default, as YAML
    with pytest.raises(SystemExit):
        main(["run", "--help"])


def test_the_documented_key_table_is_the_generated_one():
    import pathlib

    documented = pathlib.Path(__file__).resolve().parents[2] / "docs" / "config_keys.md"
    assert config.key_table_markdown() in documented.read_text(), (
        "docs/config_keys.md is out of date: run `make docs`."
    )


SHIPPED = [
    (name, profile)
    for name in config.experiment_names()
    for profile in load_config(name, "smoke").profiles
]
BREAKDOWN_EXPERIMENTS = [
    name
    for name in config.experiment_names()
    if load_config(name, "smoke").settings.report in ("breakdown", "depth", "horizon_levers")
]


@pytest.mark.parametrize("name, profile", SHIPPED)
def test_shipped_configs_load(name, profile):
    cfg = load_config(name, profile)
    assert expand_grid(cfg)
    assert config.describe(name)


@pytest.mark.parametrize("name", BREAKDOWN_EXPERIMENTS)
def test_every_breakdown_experiment_has_a_long_profile_that_keeps_its_promise(name):
    cfg = load_config(name, "long")
    assert cfg.hyperparameters.epochs * cfg.hyperparameters.steps_per_epoch >= 10_000
    assert cfg.settings.grid["seed"] == [0, 1, 2]
    assert cfg.settings.skip_decided_lengths and cfg.hyperparameters.stop_when_solved
    longest = max(cfg.settings.grid["length"])
    assert longest >= {"adding": 200, "copy_memory": 100}.get(cfg.settings.task, 100)


def test_describe_reads_the_description_and_refuses_a_broken_file(config_dir):
    assert config.describe("tiny", config_dir=config_dir) == "A tiny test experiment."
    write(config_dir, "broken", "description: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        config.describe("broken", config_dir=config_dir)
    write(config_dir, "listed", "- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        config.describe("listed", config_dir=config_dir)


def test_unknown_key_names_key_file_and_suggestion(config_dir):
    write(config_dir, "typo", BASE.replace("units: 16", "epoch: 3"))
    with pytest.raises(
        ConfigError, match=r"typo\.yaml.*unknown key `epoch`.*Did you mean `epochs`"
    ):
        load_config("typo", "smoke", config_dir=config_dir)


def test_unknown_key_in_profile_names_the_profile(config_dir):
    write(config_dir, "typo", BASE.replace("epochs: 1", "learning_rate: 1"))
    with pytest.raises(ConfigError, match=r"typo\.yaml.*`profiles\.smoke\.learning_rate`"):
        load_config("typo", "smoke", config_dir=config_dir)


@pytest.mark.parametrize(
    "line, key",
    [
        ("units: sixteen", "units"),
        ("epochs: 2.5", "epochs"),
        ("jit_compile: yes please", "jit_compile"),
        ("optimizer: adagrad", "optimizer"),
        ("lr: -1", "lr"),
        ("report: pie", "report"),
    ],
)
def test_wrong_type_names_key_and_file(config_dir, line, key):
    write(config_dir, "bad", BASE.replace("units: 16", line))
    with pytest.raises(ConfigError, match=rf"bad\.yaml.*`{key}`"):
        load_config("bad", "quick", config_dir=config_dir)


def test_missing_profile_and_unknown_profile(config_dir):
    write(config_dir, "noprof", BASE.replace("  full: {units: 128}\n", ""))
    with pytest.raises(ConfigError, match="must define smoke, quick, full.*missing: full"):
        load_config("noprof", "smoke", config_dir=config_dir)
    with pytest.raises(ConfigError, match="Unknown profile 'medium'.*smoke, quick, full"):
        load_config("tiny", "medium", config_dir=config_dir)


def test_unknown_name_lists_known_names(config_dir):
    with pytest.raises(
        ConfigError,
        match=r"Unknown experiment 'tinny'.*Did you mean `tiny`.*Known experiments: tiny",
    ):
        load_config("tinny", config_dir=config_dir)


def test_set_overrides_with_types(config_dir):
    cfg = load_config(
        "tiny",
        "smoke",
        [
            "lr=1e-2",
            "grid.seed=[3,4]",
            "clipnorm=null",
            "jit_compile=false",
            "models.deep3.kind=deep",
            "models.deep3.num_layers=3",
            "grid.model=[vanilla,deep3]",
        ],
        config_dir=config_dir,
    )
    assert cfg.hyperparameters.lr == 0.01 and isinstance(
        cfg.hyperparameters.lr, float
    )  # YAML reads "1e-2" as text
    assert cfg.settings.grid["seed"] == [3, 4] and cfg.settings.grid["length"] == [5]
    assert cfg.hyperparameters.clipnorm is None and cfg.hyperparameters.jit_compile is False
    names = [p.name for p in expand_grid(cfg)]
    assert names == ["vanilla-L5-s3", "vanilla-L5-s4", "deep3-L5-s3", "deep3-L5-s4"]
    deep3 = expand_grid(cfg)[-1].params()
    assert deep3["kind"] == "deep" and deep3["num_layers"] == 3 and deep3["model"] == "deep3"


@pytest.mark.parametrize(
    "override, message",
    [
        ("lr", "expected key=value"),
        ("lr=abc", r"--set 'lr=abc'.*`lr` must be a finite number"),
        ("epochz=3", r"unknown key `epochz`.*Did you mean `epochs`"),
        ("grid.seed=[-1]", r"`grid\.seed\[0\]`"),
        ("grid.model=[rnn]", "unknown model 'rnn'"),
        ("grid.length=[]", "non-empty list"),
        ("=3", "key before `=`"),
        ("lr=[1", "not valid YAML"),
        (
            "steps_per_epoch=150",
            r"`steps_per_epoch` must be at most 100 .*more epochs of fewer steps",
        ),
        ("lr=.inf", r"--set 'lr=\.inf'.*`lr` must be a finite number > 0; got inf"),
        ("lr=.nan", r"`lr` must be a finite number > 0; got nan"),
        ("clipnorm=.inf", r"`clipnorm` must be a finite number > 0"),
        ("probes=[weights, nope]", r"`probes\[1\]` must be one of weights, gradient_flow"),
        ("grid.length=[5, 0]", r"`grid\.length\[1\]` must be an integer >= 1"),
        ("grid.length=[5, 1000000]", r"`grid\.length\[1\]` must be at most 100,000 steps"),
    ],
)
def test_bad_set_is_a_clear_error(config_dir, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", "smoke", [override], config_dir=config_dir)


def test_per_layer_units_on_a_one_layer_model_names_the_set_argument(config_dir):
    cfg = load_config("tiny", "smoke", ["units=[1, 2]"], config_dir=config_dir)
    with pytest.raises(ConfigError, match=r"--set 'units=\[1, 2\]'.*one layer.*`deep`"):
        expand_grid(cfg)
    deep = load_config(
        "tiny", "smoke", ["units=[1, 2]", "grid.model=[deep]"], config_dir=config_dir
    )
    assert expand_grid(deep)[0].params()["units"] == [1, 2]


@pytest.mark.parametrize("name", ["/tmp/victim", "../configs/tiny", "a/b", "a b", "", "x.y"])
def test_an_experiment_name_is_not_a_path(config_dir, name):
    with pytest.raises(ConfigError, match="must be letters, digits, `_` or `-`.*not a path"):
        load_config(name, "smoke", config_dir=config_dir)


def test_parse_override():
    assert parse_override("grid.length=[10, 20]") == ("grid.length", [10, 20])
    assert parse_override("activation=linear") == ("activation", "linear")
    assert parse_override("recurrent_initializer={class_name: Identity, config: {gain: 0.5}}") == (
        "recurrent_initializer",
        {"class_name": "Identity", "config": {"gain": 0.5}},
    )


def test_grid_order_names_extra_axes_and_hash(config_dir):
    cfg = load_config("tiny", "quick", ["grid.units=[8,32]"], config_dir=config_dir)
    points = expand_grid(cfg)
    assert len(points) == 2 * 2 * 2 * 2
    assert points[0].name == "vanilla-L5-s0-units8" and points[1].name == "vanilla-L5-s0-units32"
    assert points[1].params()["units"] == 32 and points[1].axes == {
        "model": "vanilla",
        "length": 5,
        "seed": 0,
        "units": 32,
    }
    assert points[1].label() == "vanilla L=5 seed 0 units=32"
    assert len({p.config_hash for p in points}) == len(points)
    # The same config hashes the same; any change in a value changes the sweep's hash.
    again = load_config("tiny", "quick", ["grid.units=[8,32]"], config_dir=config_dir)
    assert again.config_hash == cfg.config_hash
    assert [p.config_hash for p in expand_grid(again)] == [p.config_hash for p in points]
    assert (
        load_config(
            "tiny", "quick", ["grid.units=[8,32]", "lr=0.002"], config_dir=config_dir
        ).config_hash
        != cfg.config_hash
    )
    assert (
        load_config("tiny", "smoke", config_dir=config_dir).config_hash
        != load_config("tiny", "quick", config_dir=config_dir).config_hash
    )


def test_variant_needs_kind(config_dir):
    write(config_dir, "variant", BASE + "models:\n  mystery: {units: 4}\n")
    with pytest.raises(ConfigError, match=r"`models\.mystery` needs `kind:"):
        load_config("variant", "smoke", config_dir=config_dir)
