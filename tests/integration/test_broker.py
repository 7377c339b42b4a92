def test_smoke(kafka_bootstrap, new_topic):
    from driftline.broker import fetch_topics
    name = new_topic("smoke", partitions=3)
    assert fetch_topics(kafka_bootstrap)[name] == 3
