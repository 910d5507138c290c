"""The model adapter on the `openai` SDK's Chat Completions API.

Every OpenAI-compatible server speaks it: OpenAI itself, vLLM, Ollama, llama.cpp, LM Studio.
The SDK reads `OPENAI_API_KEY` and `OPENAI_BASE_URL`; the builder's settings choose the model,
temperature, token limit, timeout, retries and the answer form. A JSON answer is asked for with
a strict `json_schema` response format, falling back to `json_object` and then to plain text
when a server refuses it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, create_model

from agent.addresses import is_loopback_url as is_loopback
from agent.errors import ConfigError, ModelError
from agent.models.base import GenerationTask, Model, ModelReply, Usage
from agent.models.prompting import build_messages
from agent.settings import Settings

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.chat import ChatCompletion

#: Tests set this to False: then only loopback servers may be reached (see tests/conftest.py).
ALLOW_REMOTE = True
_FORMS = ("json_schema", "json_object", "plain")


class OpenAIChatModel(Model):
    """Chat Completions through the official SDK, against any compatible server."""

    def __init__(
        self, model_name: str, settings: Settings, *, client: OpenAI | None = None
    ) -> None:
        if not model_name:
            raise ConfigError(
                "PETSAGE_MODEL=openai:<model> needs a model name, e.g. openai:gpt-4.1-mini"
            )
        self.model_name = model_name
        self.name = f"openai:{model_name}"
        self.settings = settings
        self._client = client
        self._json_form_index = 0

    def endpoint(self) -> tuple[str | None, str]:
        """Where to send requests and with which key: the SDK's own variables by default."""
        return os.environ.get("OPENAI_BASE_URL"), os.environ.get("OPENAI_API_KEY") or "unset"

    @property
    def client(self) -> OpenAI:
        if self._client is None:
            from agent.models.preload import wait_for

            wait_for("openai")
            import openai

            base_url, api_key = self.endpoint()
            if not ALLOW_REMOTE and not is_loopback(base_url):
                raise ModelError(
                    f"refusing to reach {base_url or 'api.openai.com'}: "
                    "tests may only use loopback servers"
                )
            try:
                self._client = openai.OpenAI(
                    api_key=api_key,
                    base_url=base_url,
                    timeout=self.settings.model_timeout,
                    max_retries=self.settings.model_retries,
                )
            except openai.OpenAIError as e:
                raise ConfigError(f"cannot create the OpenAI client: {e}") from e
        return self._client

    def generate(self, task: GenerationTask) -> ModelReply:
        messages = build_messages(
            task, form=self.settings.model_output, budget=self.settings.prompt_budget_tokens
        )
        while True:
            form = (
                _FORMS[self._json_form_index] if self.settings.model_output == "json" else "plain"
            )
            try:
                completion = self._complete(messages, form, task.request.feature)
            except _FormRefused:
                self._json_form_index += 1
                continue
            break
        choice = completion.choices[0]
        usage = Usage(
            prompt_tokens=getattr(completion.usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(completion.usage, "completion_tokens", 0) or 0,
        )
        return ModelReply(
            text=choice.message.content or "",
            usage=usage,
            finish_reason=choice.finish_reason,
            messages=tuple(messages),
        )

    def _complete(self, messages: list[dict[str, str]], form: str, feature: str) -> ChatCompletion:
        arguments: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "temperature": self.settings.model_temperature,
            "max_tokens": self.settings.model_max_tokens,
        }
        if form == "json_schema":
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "file_bundle", "strict": True, "schema": bundle_schema()},
            }
        elif form == "json_object":
            arguments["response_format"] = {"type": "json_object"}
        return self._create(arguments, refusable=form != "plain")

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatCompletion:
        """One Chat Completions call with tools (the chat assistant's), errors mapped as above."""
        arguments: dict[str, Any] = {
            "model": self.model_name,
            "messages": messages,
            "tools": tools,
            "temperature": self.settings.model_temperature,
            "max_tokens": min(self.settings.model_max_tokens, 2000),
        }
        return self._create(arguments, refusable=False)

    def _create(self, arguments: dict[str, Any], *, refusable: bool) -> ChatCompletion:
        import openai

        try:
            # Never streamed, so the SDK answers with a `ChatCompletion`.
            completion: ChatCompletion = self.client.chat.completions.create(**arguments)
            return completion
        except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
            raise ModelError(
                f"the model server refused the credentials ({e.status_code}): set OPENAI_API_KEY "
                "to a valid key (and OPENAI_BASE_URL for a server other than OpenAI)"
            ) from e
        except openai.NotFoundError as e:
            raise ModelError(
                f"the model server does not know model {self.model_name!r} (404): "
                "check PETSAGE_MODEL"
            ) from e
        except (openai.BadRequestError, openai.UnprocessableEntityError) as e:
            if refusable and "response_format" in arguments:
                raise _FormRefused from e
            raise ModelError(
                f"the model server rejected the request ({e.status_code}): {e.message}"
            ) from e
        except openai.RateLimitError as e:
            raise ModelError(
                f"rate limited after {self.settings.model_retries} retries (429): {e.message}"
            ) from e
        except openai.APITimeoutError as e:
            raise ModelError(
                f"no answer within {self.settings.model_timeout:.0f} s "
                f"after {self.settings.model_retries} retries"
            ) from e
        except openai.APIConnectionError as e:
            raise ModelError(f"cannot reach the model server at {self.client.base_url}: {e}") from e
        except openai.APIStatusError as e:
            raise ModelError(
                f"the model server failed ({e.status_code}) "
                f"after {self.settings.model_retries} retries: {e.message}"
            ) from e


class _FormRefused(Exception):
    """The server does not support this response format; try the next one."""


class RequirementRow(BaseModel):
    """One requirement and its tests: a strict schema has no free-form keys, so rows, not a map."""

    model_config = ConfigDict(extra="forbid")

    id: str
    tests: list[str]


def bundle_schema() -> dict[str, Any]:
    """The strict JSON schema of a file bundle, derived from `FileBundle`.

    OpenAI's strict mode wants every property required, no extra properties, no references and
    no constraints beyond types; `requirements` is sent as rows (which `FileBundle` also reads).
    """
    from agent.bundle import FileBundle

    fields: dict[str, Any] = {
        name: (field.annotation, ...) for name, field in FileBundle.model_fields.items()
    }
    fields["requirements"] = (list[RequirementRow], ...)
    wire = create_model("FileBundleWire", __config__=ConfigDict(extra="forbid"), **fields)
    schema = wire.model_json_schema()
    return _strict(schema, schema.get("$defs", {}))


#: The keywords a strict schema keeps; the rest (titles, descriptions, defaults, lengths) go.
_STRICT_KEYS = frozenset({"type", "properties", "items", "enum"})


def _strict(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`node` with its references inlined and every object closed, all properties required."""
    if "$ref" in node:
        return _strict(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {key: value for key, value in node.items() if key in _STRICT_KEYS}
    if "items" in out:
        out["items"] = _strict(out["items"], defs)
    if "properties" in out:
        out["properties"] = {name: _strict(sub, defs) for name, sub in out["properties"].items()}
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out
