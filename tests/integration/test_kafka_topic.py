"""`smarttech topic` and the local broker script, against the real broker (conftest.kafka_broker)."""
import re

from conftest import REPO, end_offsets, kafka_local


def test_broker_script_status_and_second_start(kafka_broker):
    st = kafka_local("status")
    if st.returncode != 0:  # a broker this script did not start (e.g. docker compose): nothing to check
        return
    pid = re.search(r"pid (\d+)", st.stdout).group(1)
    again = kafka_local("start")
    assert "already running" in again.stdout
    assert f"pid {pid}" in again.stdout
    assert f"pid {pid}" in kafka_local("status").stdout
    assert (REPO / "kafka" / "logs" / "server.log").exists()


def test_topic_create_twice_gives_one_topic_with_3_partitions(run_smarttech, kafka_broker, kafka_admin,
                                                               unique_topic):
    topic = unique_topic("create2")
    first = run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic)
    assert "created topic" in first.stdout
    second = run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic)
    assert "already exists" in second.stdout
    topics = kafka_admin.list_topics(timeout=10).topics
    assert [t for t in topics if t == topic] == [topic]
    assert len(topics[topic].partitions) == 3
    assert all(p.leader >= 0 for p in topics[topic].partitions.values())


def test_topic_partitions_option_and_describe(run_smarttech, kafka_broker, kafka_admin, unique_topic):
    topic = unique_topic("p5")
    run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic, "--partitions", "5",
                  "-X", "client.id=smarttech-test")
    assert len(kafka_admin.list_topics(topic, timeout=10).topics[topic].partitions) == 5
    d = run_smarttech("topic", "describe", "--brokers", kafka_broker, "--topic", topic)
    assert f"topic {topic} on {kafka_broker}: 5 partitions" in d.stdout
    assert "total: 0 messages" in d.stdout
    assert set(end_offsets(topic)) == {0, 1, 2, 3, 4}


def test_describe_missing_topic_fails_clearly(run_smarttech, kafka_broker, unique_topic):
    topic = unique_topic("missing")
    cp = run_smarttech("topic", "describe", "--brokers", kafka_broker, "--topic", topic, check=False)
    assert cp.returncode == 1
    assert f"topic {topic} does not exist" in cp.stderr


def test_unreachable_broker_fails_clearly_within_timeout(run_smarttech):
    cp = run_smarttech("topic", "create", "--brokers", "127.0.0.1:1", "--topic", "x", "--timeout-ms", "2000",
                       check=False, timeout=60)
    assert cp.returncode == 1
    assert "127.0.0.1:1 not reachable within 2000 ms" in cp.stderr


def test_bad_property_is_a_usage_error(run_smarttech):
    cp = run_smarttech("topic", "create", "-X", "no.such.thing=1", check=False)
    assert cp.returncode == 2
    assert "no.such.thing" in cp.stderr


def test_describe_shows_end_offsets_and_group_lag(run_smarttech, kafka_broker, unique_topic):
    """End offsets and a group's committed offsets as the broker has them, written by an independent
    client (confluent-kafka)."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    topic = unique_topic("desc")
    run_smarttech("topic", "create", "--brokers", kafka_broker, "--topic", topic)
    p = Producer({"bootstrap.servers": kafka_broker})
    for i in range(300):
        p.produce(topic, value=b"x", partition=i % 3)
    assert p.flush(30) == 0
    group = f"g_{topic}"
    c = Consumer({"bootstrap.servers": kafka_broker, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 40), TopicPartition(topic, 2, 100)], asynchronous=False)
    c.close()
    d = run_smarttech("topic", "describe", "--brokers", kafka_broker, "--topic", topic, "--group", group)
    assert f"partition 0: offsets 0..100 (100 messages), group {group} committed 40 (lag 60)" in d.stdout
    assert f"partition 1: offsets 0..100 (100 messages), group {group} committed nothing (lag 100)" in d.stdout
    assert f"partition 2: offsets 0..100 (100 messages), group {group} committed 100 (lag 0)" in d.stdout
    assert "total: 300 messages" in d.stdout
    assert f"group {group} lag: 160" in d.stdout
