from pathlib import Path

import pytest
from pydantic import ValidationError

from dualalign.errors import ConfigError
from dualalign.generate import EngineConfig
from dualalign.generate.registry import ENGINES
from dualalign.pipeline.runconfig import RunConfig, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_valid_config_loads_with_defaults(tmp_path):
    config = load_config(write(tmp_path, "seed: 7\nengine:\n  kind: openai\n  base_url: http://127.0.0.1:1/v1\n"))
    assert config.seed == 7
    assert config.engine.kind == "openai"
    assert config.engine.model == "embedded:smollm2-135m-instruct"


def test_unknown_key_is_named_with_the_file(tmp_path):
    path = write(tmp_path, "engine:\n  kind: vllm\n  max_tokenz: 12\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert "engine.max_tokenz: unknown key" in str(err.value)


def test_wrong_type_is_named_with_the_value(tmp_path):
    path = write(tmp_path, "seed: twelve\n")
    with pytest.raises(ConfigError, match=r"seed: .*integer.*'twelve'"):
        load_config(path)


def test_unknown_engine_kind_is_named_with_the_known_kinds(tmp_path):
    with pytest.raises(ConfigError, match=r"engine\.kind: unknown engine kind; known kinds: vllm, openai, "
                                          r"transformers, ray \(got 'llamacpp'\)"):  # fmt: skip
        load_config(write(tmp_path, "engine:\n  kind: llamacpp\n"))


def test_a_setting_of_another_engine_kind_says_whose_it_is(tmp_path):
    with pytest.raises(ConfigError, match=r"engine\.base_url: a setting of engine kind openai, not vllm"):
        load_config(write(tmp_path, "engine:\n  kind: vllm\n  base_url: http://127.0.0.1:1/v1\n"))
    with pytest.raises(ConfigError, match=r"engine\.batch_size: a setting of engine kind transformers and ray, "
                                          r"not openai"):  # fmt: skip
        load_config(write(tmp_path, "engine:\n  kind: openai\n  base_url: http://x/v1\n  batch_size: 4\n"))


def test_an_engine_section_without_kind_is_vllm(tmp_path):
    config = load_config(write(tmp_path, "engine:\n  max_model_len: 4096\n"))
    assert config.engine.kind == "vllm" and config.engine.max_model_len == 4096
    assert type(config.engine) is ENGINES["vllm"].config_type
    assert EngineConfig() == config.engine.model_copy(update={"max_model_len": 2048})


def test_the_registry_lists_the_engine_kinds():
    assert list(ENGINES) == ["vllm", "openai", "transformers", "ray"]
    for kind, engine in ENGINES.items():  # the registry's kind is the one its config class carries
        assert engine.config_type.model_fields["kind"].default == kind
    assert type(EngineConfig(kind="transformers", batch_size=4)) is ENGINES["transformers"].config_type


def test_a_ray_section_holds_the_engine_of_its_actors(tmp_path):
    config = load_config(write(tmp_path, "engine:\n  kind: ray\n  model: embedded:gemma3-270m\n  replicas: 2\n"
                                         "  engine:\n    kind: transformers\n    batch_size: 4\n"))  # fmt: skip
    assert config.engine.replicas == 2 and config.engine.address is None
    assert type(config.engine.engine) is ENGINES["transformers"].config_type
    assert config.engine.engine.model == "embedded:gemma3-270m"  # the section's model is the actors' model
    assert load_config(write(tmp_path, "engine:\n  kind: ray\n")).engine.engine == EngineConfig()
    # what decides the text is the actors' engine: a run resumes on another cluster keeping its generations
    assert EngineConfig(kind="ray", address="head:6379", replicas=8).text_settings() == EngineConfig().text_settings()
    with pytest.raises(ConfigError, match=r"engine\.engine\.base_url: a setting of engine kind openai, not vllm"):
        load_config(write(tmp_path, "engine:\n  kind: ray\n  engine:\n    base_url: http://x/v1\n"))
    with pytest.raises(ConfigError, match=r"engine\.engine: .*cannot itself be of kind ray"):
        load_config(write(tmp_path, "engine:\n  kind: ray\n  engine:\n    kind: ray\n"))


def test_an_openai_engine_takes_one_url_or_several(tmp_path):
    urls = ["http://a:8000/v1", "http://b:8000/v1"]
    assert load_config(write(tmp_path, f"engine:\n  kind: openai\n  base_url: {urls}\n")).engine.base_url == urls
    with pytest.raises(ConfigError, match=r"engine\.base_url: .*at least one server URL"):
        load_config(write(tmp_path, "engine:\n  kind: openai\n  base_url: []\n"))


def test_an_openai_engine_needs_a_base_url(tmp_path):
    with pytest.raises(ConfigError, match=r"engine\.base_url: required"):
        load_config(write(tmp_path, "engine:\n  kind: openai\n"))


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "engine: [unclosed\n"))


def test_sampling_keys_of_the_alignment_section_name_their_new_place(tmp_path):
    path = write(tmp_path, "alignment:\n  temperature: 0.7\n  top_p: 0.9\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value)
    assert "alignment.temperature, alignment.top_p moved to the `sampling:` section: set sampling.temperature, " \
           "sampling.top_p there" in str(err.value)  # fmt: skip
    config = load_config(write(tmp_path, "sampling:\n  temperature: 0.7\n  min_p: 0.1\n  max_tokens: 90\n"))
    assert (config.sampling.temperature, config.sampling.min_p, config.sampling.top_p) == (0.7, 0.1, None)
    with pytest.raises(ConfigError, match="sampling.min_p: Input should be less than or equal to 1"):
        load_config(write(tmp_path, "sampling:\n  min_p: 2\n"))


def test_defaults_are_strict_models():
    assert RunConfig().engine == EngineConfig()
    with pytest.raises(ValidationError, match="temperature"):
        EngineConfig(temperature=0.3)  # a sampling setting belongs to requests, not the engine


def test_shipped_configs_validate():
    from dualalign.config import load_model_yaml
    from dualalign.pipeline.runconfig import RunConfig

    repo = Path(__file__).resolve().parents[1]
    paths = [repo / "dualalign" / "configs" / "demo.yaml", *sorted((repo / "examples").glob("*.yaml"))]
    assert len(paths) >= 3
    for path in paths:
        assert isinstance(load_model_yaml(RunConfig, path), RunConfig)


def test_the_conversation_order_is_one_of_two_and_needs_encounters(tmp_path):
    order = "alignment:\n  granularity: encounters\n  conversation:\n    order: {}\n"
    assert load_config(write(tmp_path, order.format("dialogue_first"))).alignment.conversation.order == "dialogue_first"
    assert load_config(write(tmp_path, "seed: 1\n")).alignment.conversation.order == "note_first"
    with pytest.raises(ConfigError, match=r"alignment\.conversation\.order: .*'note_first' or 'dialogue_first'.*"
                                          r"'dialog_first'"):  # fmt: skip
        load_config(write(tmp_path, order.format("dialog_first")))
    with pytest.raises(ConfigError, match=r"order 'dialogue_first' .* needs granularity 'encounters', not 'sentences'"):
        load_config(write(tmp_path, "alignment:\n  conversation:\n    order: dialogue_first\n"))


def test_gpu_tstr_example_is_a_valid_command_line():
    """examples/tstr-llama-lora.sh (the paper's classifier on a GPU) parses as `tstr` options into a valid config:
    Llama-3.1-8B-Instruct generates and is the LoRA base, with settings the classifier knows."""
    import shlex

    from typer.main import get_command

    from dualalign.pipeline.cli import app
    from dualalign.pipeline.run_cli import tstr_config

    script = (Path(__file__).resolve().parents[1] / "examples" / "tstr-llama-lora.sh").read_text()
    words = shlex.split(script[script.index("exec dualalign tstr"):].replace("\\\n", " "), comments=True)
    assert words[:3] == ["exec", "dualalign", "tstr"] and words[-1] == "$@"
    command = get_command(app).get_command(None, "tstr")
    cfg = tstr_config(command.make_context("tstr", words[3:-1]).params)
    assert cfg.engine.kind == "vllm" and cfg.engine.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert cfg.train.classifier == "lora-llm"
    assert cfg.train.settings == {"model": "meta-llama/Llama-3.1-8B-Instruct", "r": 16, "alpha": 32, "dropout": 0.05,
                                  "epochs": 3, "batch_size": 8, "lr": 1e-4, "max_length": 256, "dtype": "bfloat16"}
    assert cfg.gold_per_label == [1, 2, 5, 10] and cfg.draws == 2 and cfg.seeds == [0, 1, 2]


def test_tstr_classifier_settings_are_typed_and_checked():
    from typer.main import get_command

    from dualalign.pipeline.cli import app
    from dualalign.pipeline.run_cli import tstr_config

    command = get_command(app).get_command(None, "tstr")

    def config(*args: str):
        words = ["--real", "x.csv", "--labels", "symptom2disease", *args]
        return tstr_config(command.make_context("tstr", words).params)

    cfg = config("--classifier", "lora-llm", "--classifier-settings", "r=4, lr=2e-4,dtype=float32,device=cpu")
    assert cfg.train.settings == {"r": 4, "lr": 2e-4, "dtype": "float32", "device": "cpu"}
    assert config("--test-per-label", "5").test_per_label == 5
    with pytest.raises(ConfigError, match="--classifier-settings 'r': give name=value pairs"):
        config("--classifier-settings", "r")
    with pytest.raises(ConfigError, match="classifier 'encoder': unknown settings \\['r'\\]"):
        config("--classifier", "encoder", "--classifier-settings", "r=4")
    with pytest.raises(ConfigError, match="test_per_label"):
        config("--test-per-label", "0")
