package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.local.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The check before a job starts, against a real broker: it passes on topics as the jobs need them,
 * and stops the start with one message naming every missing topic, a state topic that is not
 * compacted and a transaction timeout above the brokers' limit.
 */
class KafkaPreflightTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(20);

  @TempDir
  Path dir;

  @Test
  void passesOnTheJobsTopicsAndNamesEverythingThatDoesNotFit() throws Exception {
    try (LocalKafka kafka = LocalKafka.start(dir.resolve("kafka"))) {
      String bootstrap = kafka.bootstrapServers();
      ServingConfig serving = ServingConfig.of(Map.of("kafka.bootstrap-servers", bootstrap, "model.dir", "m",
          "snapshot.dir", dir.toString(), "checkpoint.dir", dir.toUri().toString()));
      kafka.createTopics(serving.topics(), 1, serving.compactedTopics());
      KafkaPreflight.check(bootstrap, Map.of(), TIMEOUT,
          new KafkaPreflight.Needs(serving.topics(), serving.compactedTopics(), serving.outputTopics(),
              serving.get(ServingOptions.TRANSACTION_TIMEOUT_MS)));

      // a descriptor topic made without compaction, one compacted but also deleted by retention, two topics
      // not made at all (this broker does not create topics on use), a timeout above the brokers'
      kafka.createTopics(List.of("p-index-updates", "p-requests"), 1, Set.of());
      kafka.createTopics(List.of("p-items", "p-kept"), 1, Set.of("p-items", "p-kept"));
      try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(kafka.adminProperties())) {
        var items = new org.apache.kafka.common.config.ConfigResource(
            org.apache.kafka.common.config.ConfigResource.Type.TOPIC, "p-items");
        admin.incrementalAlterConfigs(Map.of(items, List.of(new org.apache.kafka.clients.admin.AlterConfigOp(
            new org.apache.kafka.clients.admin.ConfigEntry("cleanup.policy", "compact,delete"),
            org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
        var kept = new org.apache.kafka.common.config.ConfigResource(
            org.apache.kafka.common.config.ConfigResource.Type.TOPIC, "p-kept");   // deleted by nothing: fine
        admin.incrementalAlterConfigs(Map.of(kept, List.of(
            new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry(
                "cleanup.policy", "compact,delete"), org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET),
            new org.apache.kafka.clients.admin.AlterConfigOp(new org.apache.kafka.clients.admin.ConfigEntry(
                "retention.ms", "-1"), org.apache.kafka.clients.admin.AlterConfigOp.OpType.SET)))).all().get();
      }
      KafkaPreflight.Needs needs = new KafkaPreflight.Needs(
          List.of("p-requests", "p-index-updates", "p-responses", "p-model-updates", "p-items", "p-kept"),
          Set.of("p-index-updates", "p-model-updates", "p-items", "p-kept"), Set.of("p-responses"), 900_001);
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> KafkaPreflight.check(bootstrap, Map.of(), TIMEOUT, needs));
      String m = e.getMessage();
      assertTrue(m.startsWith("the Kafka cluster at " + bootstrap + " does not fit the job: "), m);
      assertTrue(m.contains("missing topic(s) p-responses, p-model-updates - create them first (with "
          + "cleanup.policy=compact for p-model-updates; "), m);
      assertTrue(m.contains("topic p-index-updates has cleanup.policy=delete but must be compacted only"), m);
      assertTrue(m.contains("topic p-items has cleanup.policy=compact,delete with retention.ms=604800000 and "
          + "retention.bytes=-1 but must be compacted only"), m);
      assertTrue(m.contains("kafka.transaction-timeout-ms is 900001 but the brokers allow at most 900000"), m);
      assertEquals(-1, m.indexOf("p-requests"), "a topic as needed is not named: " + m);
      assertEquals(-1, m.indexOf("p-kept"), "compact,delete with nothing to delete is fine: " + m);
    }
  }
}
