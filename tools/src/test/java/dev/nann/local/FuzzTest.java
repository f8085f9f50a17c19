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
 * no record is answered or dead-lettered twice (or both), and records that cannot be valid (truncated,
 * another schema) are all dead-lettered, and the catalogue's next real version is still served
 * afterwards (hostile descriptors froze no swap). Each record is accounted for by its own id ({@link FuzzRun}).
 * The full run is {@code ./nann bench fuzz} (10,000 records per topic).
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
      FuzzRun.Result r = FuzzRun.run(stack, 120, 10, users, dim, 5, true, System.err);
      assertTrue(r.jobRunning(), "no record may fail the job");
      assertEquals(0, r.seenTwice(), "no record is answered twice, dead-lettered more often than jobs read its topic, or both: "
          + r.anomalies());
      assertEquals(0, r.hostileRequests().neverSeen(), "each hostile request is dead-lettered or answered: "
          + r.anomalies());
      assertEquals(0, r.good().neverSeen(), "no good request is lost: " + r.anomalies());
      assertEquals(r.good().sent(), r.goodAnsweredOk(), "every good request interleaved with the hostile ones is "
          + "answered OK or COLD_START: " + r.good());
      assertEquals(0, r.good().deadLettered(), "no good request is dead-lettered: " + r.good());
      for (FuzzRun.Row row : r.rows()) {
        FuzzRun.Tally t = row.tally();
        assertTrue(t.sent() > 0, row + ": nothing sent");
        boolean neverValid = row.kind() == RecordFuzzer.Kind.TRUNCATE || row.kind() == RecordFuzzer.Kind.WRONG_FINGERPRINT;
        if (neverValid) {
          assertEquals(t.sent(), t.deadLettered(), row + ": records that cannot be valid are all dead letters");
        }
        if (row.input() == RecordFuzzer.Input.REQUESTS) {
          assertEquals(t.sent(), t.answered() + t.deadLettered(), row + ": each request answered or dead-lettered, once");
        } else {
          assertEquals(0, t.answered(), row + ": only requests are answered");
        }
        assertTrue(t.deadLettered() + t.answered() > 0 || row.kind() == RecordFuzzer.Kind.HOSTILE_VALUES
            || row.kind() == RecordFuzzer.Kind.BIT_FLIP, row + ": nothing came of these records");
      }
      assertTrue(r.answersByStatus().getOrDefault(dev.nann.schemas.ResponseStatus.INVALID, 0) > 0,
          "hostile but decodable requests are answered INVALID: " + r.answersByStatus());

      // the hostile descriptors (absurd versions, paths outside the store) froze nothing: the catalogue's
      // next real version is still built, published and served
      long before = servedVersion(stack, -1, Duration.ofSeconds(30));
      long[] ids = new long[50];
      float[] emb = new float[50 * dim];
      java.util.Random rnd = new java.util.Random(9);
      for (int i = 0; i < ids.length; i++) {
        ids[i] = 900_000_000L + i;
        for (int j = 0; j < dim; j++) {
          emb[i * dim + j] = (float) rnd.nextGaussian();
        }
      }
      stack.client.sendCatalog(stack.config.get(dev.nann.jobs.ServingOptions.TOPIC_ITEM_EMBEDDINGS), ids, emb, dim);
      long after = servedVersion(stack, before, Duration.ofMinutes(2));
      assertTrue(after > before, "a version after " + before + " (new items, rebuilt within rebuild.max-interval-ms) "
          + "is served; answers still come from " + after);
    }
  }

  /** The index version the job answers from, once it is above {@code above} or {@code wait} has passed. */
  private static long servedVersion(LocalStack stack, long above, Duration wait) throws Exception {
    long served = -1;
    try (KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow()) {
      long end = System.nanoTime() + wait.toNanos();
      while ((served <= above || served < 0) && System.nanoTime() < end) {
        stack.client.send(ServingClient.request(0, 10, "nann"));
        stack.client.flush();
        for (var rec : responses.poll(Duration.ofMillis(500))) {
          served = Math.max(served, stack.client.decode(rec).getIndexVersion());
        }
      }
    }
    return served;
  }
}
