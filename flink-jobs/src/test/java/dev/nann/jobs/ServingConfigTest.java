package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.search.Descent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings: defaults, file loading, and clear refusals. */
class ServingConfigTest {
  @Test
  void readsAPropertiesFileOverTheDefaults(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("serving.properties");
    Files.writeString(f, "kafka.bootstrap-servers = broker:9092\nmodel.dir = /models/m1\nsnapshot.dir = /store/snapshots\nsearch.ef = 50,100,300\nsearch.width = 400\n"
        + "batching.enabled = true\n");
    ServingConfig c = ServingConfig.load(f);
    assertEquals("broker:9092", c.get(ServingOptions.BOOTSTRAP_SERVERS));
    assertEquals("requests", c.get(ServingOptions.TOPIC_REQUESTS));
    assertEquals(null, c.get(ServingOptions.DR_DIR), "an optional setting not given reads as null");
    assertEquals("/models", c.engine().modelRoot(), "models may come from beside the default one");
    assertTrue(c.engine().microBatching());
    assertEquals(300, c.engine().search().beam().efBottom());
    assertEquals(400, c.engine().search().walk().width());
    assertEquals(8, c.topics().size());
    assertTrue(c.compactedTopics().contains("index-updates"));
  }

  @Test
  void refusesUnknownKeysMissingRequiredOnesAndBadValues() {
    Map<String, String> ok = Map.of("kafka.bootstrap-servers", "b:1", "model.dir", "/m", "snapshot.dir", "/s");
    IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(Map.of("kafka.bootstrap-servers", "b:1", "model.dir", "/m", "snapshot.dir", "/s",
            "search.eff", "1")));
    assertTrue(typo.getMessage().contains("unknown setting 'search.eff'"), typo.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(Map.of("model.dir", "/m")));
    assertTrue(missing.getMessage().contains("kafka.bootstrap-servers"), missing.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ServingConfig.of(ok).with(Map.of("search.ef", "a,b")));
    assertThrows(IllegalArgumentException.class, () -> ServingConfig.of(ok).with(Map.of("kafka.delivery", "maybe")));
    assertEquals(1, ServingConfig.of(ok).with(Map.of("kafka.response-schema-version", "1"))
        .get(ServingOptions.RESPONSE_SCHEMA_VERSION));
    IllegalArgumentException version = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("kafka.response-schema-version", "99")));
    assertTrue(version.getMessage().startsWith("setting 'kafka.response-schema-version': RetrievalResponse has versions 1 to"),
        version.getMessage());
    IllegalArgumentException feedVersion = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("kafka.feed-schema-version", "99")));
    assertTrue(feedVersion.getMessage().startsWith("setting 'kafka.feed-schema-version': CandidateFeed has versions 1 to"),
        feedVersion.getMessage());
    IllegalArgumentException bool = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("batching.enabled", "yes")));
    assertEquals("setting 'batching.enabled' must be true or false, got 'yes'", bool.getMessage());
    IllegalArgumentException number = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("search.width", "wide")));
    assertEquals("setting 'search.width' must be an integer, got 'wide'", number.getMessage());
    assertFalse(ServingConfig.of(ok).engine().microBatching());
    assertEquals(Descent.AUTO, ServingConfig.of(ok).engine().search().walk().descent(), "the default descent");
    assertEquals(Descent.NARROW,
        ServingConfig.of(ok).with(Map.of("search.descent", "narrow")).engine().search().walk().descent());
    IllegalArgumentException descent = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("search.descent", "deep")));
    assertEquals("setting 'search.descent': unknown descent 'deep': expected auto, wide or narrow", descent.getMessage());
  }

  @Test
  void refusesSettingsAJobCouldNotLiveWith() {
    // each would fail every record or every answer of a certain kind once the job runs: an answer too
    // large for a Kafka record, a feed k the engine refuses, a behaviour window that cannot hold an item
    ServingConfig ok = ServingConfig.of(Map.of("kafka.bootstrap-servers", "b:1", "model.dir", "/m", "snapshot.dir", "/s"));
    Map<String, String> refused = Map.of("search.max-k", "10001", "serving.max-record-bytes", "300000",
        "state.max-sequence", "0", "state.ttl-ms", "-1", "feed.k", "0", "async.timeout-ms", "0", "async.capacity", "0",
        "checkpoint.interval-ms", "5", "parallelism", "0");
    refused.forEach((key, value) -> {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ok.with(Map.of(key, value)));
      assertTrue(e.getMessage().startsWith("setting '" + key + "' must be in ["), e.getMessage());
    });
    IllegalArgumentException feed = assertThrows(IllegalArgumentException.class,
        () -> ok.with(Map.of("search.max-k", "100", "feed.k", "101")));
    assertEquals("setting 'feed.k' must be in [1, 100], got 101", feed.getMessage());
    assertEquals(10_000, ok.with(Map.of("search.max-k", "10000")).get(ServingOptions.MAX_K));

    // a Kafka transaction open longer than its timeout is aborted with the records in it
    IllegalArgumentException txn = assertThrows(IllegalArgumentException.class,
        () -> ok.with(Map.of("checkpoint.interval-ms", "400000")));
    assertEquals("setting 'kafka.transaction-timeout-ms' (600000) must be at least twice 'checkpoint.interval-ms' "
        + "(400000): a Kafka transaction stays open from one checkpoint to the next one's end", txn.getMessage());
    assertEquals(400_000, ok.with(Map.of("checkpoint.interval-ms", "400000", "kafka.feed-delivery", "at-least-once"))
        .get(ServingOptions.CHECKPOINT_INTERVAL_MS), "no transactions: no such limit");
    // found at configuration time, not when every TaskManager's engine starts
    for (Map<String, String> engine : List.of(Map.of("engine.queue-capacity", "2100000", "index.shards", "1024"),
        Map.of("batching.enabled", "true", "batching.max-rows", "0"),
        Map.of("batching.enabled", "true", "batching.max-wait-us", "-1"),
        Map.of("index.shard-activation-ms", "300000"))) {
      assertThrows(IllegalArgumentException.class, () -> ok.with(engine), engine.toString());
    }
  }

  @Test
  void handsKafkaPropertiesThroughRefusesTheOnesNannControlsAndMasksSecrets(@TempDir Path dir) throws Exception {
    String jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"nann\" password=\"s3cr3t-pw\";";
    Path f = dir.resolve("serving.properties");
    Files.writeString(f, "kafka.bootstrap-servers=broker:9093\nmodel.dir=/m\nsnapshot.dir=/s\n"
        + "kafka.properties.security.protocol=SASL_SSL\n"
        + "kafka.properties.sasl.mechanism=SCRAM-SHA-512\n"
        + "kafka.properties.sasl.jaas.config=" + jaas + "\n"
        + "kafka.properties.ssl.truststore.location=/etc/kafka/ca.p12\n"
        + "kafka.properties.ssl.truststore.password=trust-pw\n"
        + "kafka.properties.ssl.endpoint.identification.algorithm=\n");
    ServingConfig c = ServingConfig.load(f);
    assertEquals(CommonOptions.KAFKA_PROPERTIES.key() + ".", KafkaClientProperties.PREFIX);
    Map<String, String> kafka = c.kafkaProperties();
    assertEquals("SASL_SSL", kafka.get("security.protocol"));
    assertEquals("SCRAM-SHA-512", kafka.get("sasl.mechanism"));
    assertEquals(jaas, kafka.get("sasl.jaas.config"));
    assertEquals("/etc/kafka/ca.p12", kafka.get("ssl.truststore.location"));
    assertEquals("", kafka.get("ssl.endpoint.identification.algorithm"), "an empty value means something to Kafka: kept");
    assertEquals(6, kafka.size());
    assertEquals(kafka, c.with(Map.of("search.width", "300")).kafkaProperties(), "a copy keeps them");

    String printed = c.toString();
    assertTrue(printed.contains("kafka.properties.sasl.jaas.config=****"), printed);
    assertTrue(printed.contains("kafka.properties.ssl.truststore.password=****"), printed);
    assertTrue(printed.contains("kafka.properties.security.protocol=SASL_SSL"), printed);
    assertTrue(printed.contains("kafka.properties.ssl.truststore.location=/etc/kafka/ca.p12"), printed);
    assertFalse(printed.contains("s3cr3t-pw") || printed.contains("trust-pw"), printed);

    Map<String, String> ok = Map.of("kafka.bootstrap-servers", "b:1", "model.dir", "/m", "snapshot.dir", "/s");
    for (String controlled : new String[] {"isolation.level", "transactional.id", "enable.auto.commit",
        "commit.offsets.on.checkpoint", "key.serializer",
        "value.deserializer", "bootstrap.servers", "group.id", "transaction.timeout.ms"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ServingConfig.of(ok).with(Map.of("kafka.properties." + controlled, "x")));
      assertTrue(e.getMessage().startsWith("Kafka property '" + controlled + "' (given as 'kafka.properties." + controlled
          + "') is controlled by nann and cannot be set: "), e.getMessage());
    }
    // producer settings under which Kafka turns idempotence off without a word
    for (String[] kv : new String[][] {{"acks", "1"}, {"acks", "0"}, {"retries", "0"},
        {"max.in.flight.requests.per.connection", "6"}}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> ServingConfig.of(ok).with(Map.of("kafka.properties." + kv[0], kv[1])));
      assertTrue(e.getMessage().startsWith("Kafka property '" + kv[0] + "' = '" + kv[1] + "' (given as 'kafka.properties."
          + kv[0] + "') would turn off the producers' idempotence: "), e.getMessage());
    }
    assertEquals("all", ServingConfig.of(ok).with(Map.of("kafka.properties.acks", "all")).kafkaProperties().get("acks"));
    IllegalArgumentException bare = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("kafka.properties", "security.protocol:SSL")));
    assertEquals("setting 'kafka.properties' takes one key per entry: kafka.properties.<name>=value", bare.getMessage());
    IllegalArgumentException typo = assertThrows(IllegalArgumentException.class,
        () -> ServingConfig.of(ok).with(Map.of("kafka.propertes.security.protocol", "SSL")));
    assertTrue(typo.getMessage().startsWith("unknown setting 'kafka.propertes.security.protocol'; known settings: ["),
        typo.getMessage());
    assertTrue(typo.getMessage().contains("kafka.properties.<name>"), typo.getMessage());

    IndexSyncConfig sync = IndexSyncConfig.of(Map.of("kafka.bootstrap-servers", "b:1", "snapshot.dir", "/s", "index.dim", "8",
        "kafka.properties.security.protocol", "SSL", "kafka.properties.ssl.keystore.password", "ks-pw"));
    assertEquals(Map.of("security.protocol", "SSL", "ssl.keystore.password", "ks-pw"), sync.kafkaProperties());
    assertFalse(sync.toString().contains("ks-pw"), sync.toString());
    assertThrows(IllegalArgumentException.class, () -> IndexSyncConfig.of(Map.of("kafka.bootstrap-servers", "b:1",
        "snapshot.dir", "/s", "index.dim", "8", "kafka.properties.isolation.level", "read_uncommitted")));
  }

  @Test
  void indexSyncCheckpointsWaitForALongBuild() {
    Map<String, String> minimal = Map.of("kafka.bootstrap-servers", "b:1", "snapshot.dir", "/s", "index.dim", "8");
    // a build holds the operator thread and a checkpoint waits for it: Flink's 10 minutes failed the job
    // while a large full build ran, and the restarted job began the same build again
    assertEquals("7200000 ms", IndexSyncJob.flinkConfiguration(IndexSyncConfig.of(minimal))
        .getString("execution.checkpointing.timeout", null));
    Map<String, String> shorter = new java.util.HashMap<>(minimal);
    shorter.put("checkpoint.timeout-ms", "60000");
    assertEquals("60000 ms", IndexSyncJob.flinkConfiguration(IndexSyncConfig.of(shorter))
        .getString("execution.checkpointing.timeout", null));
    shorter.put("checkpoint.timeout-ms", "500");
    assertThrows(IllegalArgumentException.class, () -> IndexSyncConfig.of(shorter));
  }
}
