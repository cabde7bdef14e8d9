"""The Redis topology settings: one Redis, Sentinel or Cluster; what does not fit is one line naming the variable."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError

from conversations.errors import NotReplicated, storage_unavailable
from gateway.redis_clients import RedisClients
from gateway.settings import SettingsError, load_settings


def test_sentinels_are_comma_separated_host_port(monkeypatch):
    monkeypatch.setenv("GATEWAY_REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379,10.0.0.3:26380")
    monkeypatch.setenv("GATEWAY_REDIS_SENTINEL_MASTER", "gateway")
    settings = load_settings(_env_file=None)
    assert settings.sentinel_addresses == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380)]
    assert settings.redis_configured and settings.redis_url is None
    assert RedisClients(settings).describe() == (
        "Sentinel master 'gateway' via 10.0.0.1:26379, 10.0.0.2:26379, 10.0.0.3:26380")


def test_sentinels_as_a_json_list_work_too(monkeypatch):
    monkeypatch.setenv("GATEWAY_REDIS_SENTINELS", '["10.0.0.1:26379"]')
    monkeypatch.setenv("GATEWAY_REDIS_SENTINEL_MASTER", "gateway")
    assert load_settings(_env_file=None).sentinel_addresses == [("10.0.0.1", 26379)]


def test_cluster_with_its_queue_redis(monkeypatch):
    monkeypatch.setenv("GATEWAY_REDIS_CLUSTER", "true")
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://10.0.0.5:7000/0")
    monkeypatch.setenv("GATEWAY_QUEUE_REDIS_URL", "redis://:secret@10.0.0.9:6379/2")
    description = RedisClients(load_settings(_env_file=None)).describe()
    assert description == "Redis Cluster at 10.0.0.5:7000/0; job queues on 10.0.0.9:6379/2"
    assert "secret" not in description


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"GATEWAY_REDIS_SENTINELS": "10.0.0.1"}, "GATEWAY_REDIS_SENTINELS"),
        ({"GATEWAY_REDIS_SENTINELS": "10.0.0.1:26379"}, "GATEWAY_REDIS_SENTINEL_MASTER"),
        ({"GATEWAY_REDIS_SENTINEL_MASTER": "gateway"}, "GATEWAY_REDIS_SENTINELS"),
        ({"GATEWAY_REDIS_CLUSTER": "true"}, "GATEWAY_REDIS_URL"),
        ({"GATEWAY_REDIS_CLUSTER": "true", "GATEWAY_REDIS_URL": "redis://10.0.0.5:7000"}, "GATEWAY_QUEUE_REDIS_URL"),
        ({"GATEWAY_REDIS_CLUSTER": "true", "GATEWAY_REDIS_URL": "redis://a:7000", "GATEWAY_QUEUE_REDIS_URL":
          "redis://b:6379", "GATEWAY_REDIS_MIN_REPLICAS_ACK": "1"}, "GATEWAY_REDIS_MIN_REPLICAS_ACK"),
        ({"GATEWAY_REDIS_CLUSTER": "true", "GATEWAY_REDIS_URL": "redis://a:7000", "GATEWAY_QUEUE_REDIS_URL": "b:6379"},
         "GATEWAY_QUEUE_REDIS_URL"),
        ({"GATEWAY_REDIS_MIN_REPLICAS_ACK": "-1"}, "GATEWAY_REDIS_MIN_REPLICAS_ACK"),
    ],
)
def test_what_does_not_fit_is_one_line_naming_the_variable(monkeypatch, variables, named):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None)
    message = str(error.value)
    assert named in message and "\n" not in message


@pytest.mark.parametrize("error", [
    RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    ReadOnlyError("You can't write against a read only replica."),
    ResponseError("NOREPLICAS Not enough good replicas to write."),
    ResponseError("LOADING Redis is loading the dataset in memory"),
    NotReplicated("0 of 1 replicas confirmed"),
    ConnectionRefusedError(111, "Connection refused"),
])
def test_redis_saying_not_now_is_storage_unavailable(error):
    assert storage_unavailable(error)


@pytest.mark.parametrize("error", [ResponseError("WRONGTYPE Operation against a key"), ValueError("bug")])
def test_other_errors_are_not(error):
    assert not storage_unavailable(error)


async def test_behind_sentinel_the_url_lends_its_password_and_database(monkeypatch):
    monkeypatch.setenv("GATEWAY_REDIS_SENTINELS", "10.0.0.1:26379")
    monkeypatch.setenv("GATEWAY_REDIS_SENTINEL_MASTER", "gateway")
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://:s3cret@ignored/4")
    clients = RedisClients(load_settings(_env_file=None))
    data, queue = clients.data(), clients.queue()
    for kwargs in (data.connection_pool.connection_kwargs, queue.connection_pool.connection_kwargs):
        assert kwargs["password"] == "s3cret" and kwargs["db"] == 4
    assert data.connection_pool.service_name == queue.connection_pool.service_name == "gateway"
    await data.aclose()
    queue.close()
