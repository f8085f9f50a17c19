package dev.nann.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fuzzing suite, short: hostile records of every kind on every input topic of a running job
 * (index-sync and serving, a real broker, no restarts allowed), good requests interleaved. The job
 * keeps running, every good request is answered, every hostile request is dead-lettered or answered,
 * and records that cannot be valid (truncated, a length bomb, another schema, random bytes) are all
 * dead-lettered. The full run is {@code ./nann bench fuzz} (10,000 records per topic).
 */
class FuzzTest {
  private static final Path MODEL = Path.of(System.getProperty("nann.repo", ".")).resolve("models/fixtures/attention-d16");

  @TempDir
  Path dir;

  @Test
  void everyHostileRecordIsDeadLetteredOrAnsweredAndTheJobKeepsServing() throws Exception {
    int dim = 16;
    int users = 50;
    Corpus corpus = SyntheticCorpus.generate(3000, dim, users, 3);
    try (LocalStack stack = LocalStack.start(dir.resolve("stack"), MODEL, corpus.itemIds(), corpus.embeddings(), dim,
        Map.of("kafka.delivery", "at-least-once", "async.timeout-ms", "10000"), Map.of("rebuild.max-interval-ms", "20000"),
        System.err, Map.of("restart-strategy.type", "none"))) {
      stack.client.replayBehaviour(corpus);
      try (KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow()) {
        stack.client.awaitServing(responses, 0, Duration.ofMinutes(3));
      }
      FuzzRun.Result r = FuzzRun.run(stack, 120, 10, users, dim, 5, System.err);
      assertTrue(r.jobRunning(), "no record may fail the job");
      assertEquals(0, r.requestsUnaccounted(), "each hostile request is dead-lettered or answered, exactly once");
      assertEquals(r.goodSent(), r.goodAnswered(), "every good request interleaved with the hostile ones is answered");
      for (FuzzRun.Row row : r.rows()) {
        boolean neverValid = row.kind() == RecordFuzzer.Kind.TRUNCATE || row.kind() == RecordFuzzer.Kind.WRONG_FINGERPRINT;
        if (neverValid) {
          assertTrue(row.deadLettered() >= row.sent(), row + ": records that cannot be valid are all dead letters");
        }
        assertTrue(row.deadLettered() + row.answered() > 0 || row.kind() == RecordFuzzer.Kind.HOSTILE_VALUES
            || row.kind() == RecordFuzzer.Kind.BIT_FLIP, row + ": nothing came of these records");
      }
      assertTrue(r.answersByStatus().getOrDefault(dev.nann.schemas.ResponseStatus.INVALID, 0) > 0,
          "hostile but decodable requests are answered INVALID: " + r.answersByStatus());
    }
  }
}
