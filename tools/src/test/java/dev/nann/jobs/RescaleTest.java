package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adding capacity by restarting the serving job with more parallelism from its last checkpoint (and
 * taking it away again): the users' behaviour, the index and every request in flight carry over.
 */
class RescaleTest {
  private static final int USERS = 100;
  /** Requests sent while the job is down: fewer than one engine queue, so none is shed OVERLOADED. */
  private static final int BACKLOG = 40;

  @TempDir
  static Path dir;
  static ServingFixture fx;

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture(dir);
  }

  @AfterAll
  static void stop() throws Exception {
    if (fx != null) {
      fx.close();
    }
  }

  @Test
  void restoredWithMoreAndThenFewerSubtasksKeepsUsersIndexAndRequests() throws Exception {
    Path checkpoints = dir.resolve("chk");
    // a fixed descent: with auto, a model's first queries after every load compare both descents on half
    // the budget each (DescentChooser), so a restored job's first answers would differ by design
    ServingConfig one = fx.config("rs", checkpoints, Map.of("parallelism", "1", "search.descent", "wide"));
    ServingConfig two = one.with(Map.of("parallelism", "2"));
    fx.publishIndex(one);
    fx.sendHistories(one, USERS);
    int perPhase = 400;
    JobClient job = ServingFixture.startJob(one, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(one.get(ServingOptions.TOPIC_RESPONSES))) {
      // every user's history is in before the first request (the source reads both topics side by side)
      fx.askUntil(one, responses, "probe-", r -> r.getStatus() == ResponseStatus.OK);
      List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.newList();
      send(one, "a-", 0, perPhase);
      ServingFixture.pollUntil(responses, got, l -> answered(l, "a-") >= perPhase, Duration.ofMinutes(2));
      assertEquals(perPhase, answered(got, "a-"), "phase 1 (parallelism 1) answered");
      awaitCheckpointAfter(checkpoints, 0);
      job.cancel().get();

      // more subtasks: keyed user state is split across them, the broadcast index goes to both
      long before = ServingFixture.checkpointNumber(ServingFixture.latestCheckpoint(checkpoints));
      send(one, "b-", 0, BACKLOG);   // waiting in Kafka while the job is down
      job = ServingFixture.startJob(two, ServingFixture.latestCheckpoint(checkpoints).toUri().toString());
      ServingFixture.pollUntil(responses, got, l -> answered(l, "b-") >= BACKLOG, Duration.ofMinutes(3));
      sendPaced(one, responses, got, "b-", BACKLOG, perPhase);
      awaitCheckpointAfter(checkpoints, before);
      job.cancel().get();

      // and back to one subtask
      send(one, "c-", 0, BACKLOG);
      job = ServingFixture.startJob(one, ServingFixture.latestCheckpoint(checkpoints).toUri().toString());
      ServingFixture.pollUntil(responses, got, l -> answered(l, "c-") >= BACKLOG, Duration.ofMinutes(3));
      sendPaced(one, responses, got, "c-", BACKLOG, perPhase);
      ServingFixture.pollUntil(responses, got, l -> false, Duration.ofSeconds(3));

      Map<String, Integer> counts = new HashMap<>();
      Map<String, RetrievalResponse> byId = ServingFixture.answers(got, "", counts);
      for (String phase : List.of("a-", "b-", "c-")) {
        for (int i = 0; i < perPhase; i++) {
          RetrievalResponse resp = byId.get(phase + i);
          assertTrue(resp != null, phase + i + " unanswered");
          assertEquals(1, counts.get(phase + i), phase + i + " answered more than once");
          // every user has a history: after a restore it must still be there (COLD_START would mean lost state)
          assertEquals(ResponseStatus.OK, resp.getStatus(), phase + i + ": " + resp.getStatus() + " " + resp.getDetail());
          assertEquals(10, resp.getItems().size(), phase + i);
        }
      }
      // the same user asked in each phase gets the same answer: the same behaviour, the same index
      for (int i = 0; i < perPhase; i++) {
        assertEquals(byId.get("a-" + i).getItems(), byId.get("b-" + i).getItems(), "user " + (i % USERS) + " a/b");
        assertEquals(byId.get("a-" + i).getItems(), byId.get("c-" + i).getItems(), "user " + (i % USERS) + " a/c");
      }
    } finally {
      cancelIfRunning(job);
    }
  }

  @Test
  void aRestartServesTheModelThatServedBeforeItNotTheConfiguredDefault() throws Exception {
    Path checkpoints = dir.resolve("chk-models");
    ServingConfig cfg = servedWithHistories("rm", checkpoints);
    JobClient job = ServingFixture.startJob(cfg, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      fx.askUntil(cfg, responses, "probe-", r -> r.getStatus() == ResponseStatus.OK);
      fx.publishModel(cfg, "dnn", 16, "m-2", false);
      fx.askUntil(cfg, responses, "m2-", r -> "m-2".equals(r.getModelVersion()));
      // m-3's model.json names its version (the job makes it current) but its score network is corrupt:
      // the engine refuses it and m-2 keeps serving
      fx.publishModel(cfg, "two-sided", 16, "m-3", true);
      Thread.sleep(3000);   // m-3 refused by now (a fixture model loads in well under a second)
      assertEquals("m-2", fx.askUntil(cfg, responses, "m3-", r -> true).getModelVersion(), "m-3 refused");
      cancelAfterNextCheckpoint(job, checkpoints);

      // restarted from the checkpoint: it remembers m-3 as current, which the new engine refuses again;
      // m-2 must answer, from the first request on, not the configured default model
      send(cfg, "after-", 0, BACKLOG);
      job = startFromLatestCheckpoint(cfg, checkpoints);
      List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.newList();
      ServingFixture.pollUntil(responses, got, l -> answered(l, "after-") >= BACKLOG, Duration.ofMinutes(3));
      Map<String, RetrievalResponse> byId = ServingFixture.answers(got, "after-", new HashMap<>());
      assertEquals(BACKLOG, byId.size());
      for (RetrievalResponse r : byId.values()) {
        assertEquals(ResponseStatus.OK, r.getStatus(), r.getRequestId() + ": " + r.getDetail());
        assertEquals("m-2", r.getModelVersion(), r.getRequestId() + " answered by another model after the restart");
      }
    } finally {
      cancelIfRunning(job);
    }
  }

  @Test
  void aCatalogChangeNoSnapshotHoldsOutlivesARestart() throws Exception {
    Path checkpoints = dir.resolve("chk-fresh");
    ServingConfig cfg = servedWithHistories("rf", checkpoints);
    JobClient job = ServingFixture.startJob(cfg, null);
    long fresh = 900_001L;
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      long top = fx.askUntil(cfg, responses, "probe-", r -> r.getStatus() == ResponseStatus.OK).getItems().get(0);
      fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(fresh).setEmbedding(fx.embedding(top)).build());
      fx.askUntil(cfg, responses, "fresh-", r -> r.getItems().contains(fresh));
      // a snapshot finished two minutes after the change without it (a long build, or an index-sync
      // behind on the topic): the change must stay in the job's state, not only in the engine
      dev.nann.schemas.IndexDescriptor v2 = new dev.nann.indexsync.SnapshotPublisher(dir.resolve("rf-v2"), 16, 40, 1)
          .publish(2, fx.corpus.embeddings(), ServingFixture.DIM, fx.corpus.itemIds(), 1, n -> { });
      v2.setCreatedAtMillis(System.currentTimeMillis() + 120_000);
      fx.publishIndex(cfg, v2);
      fx.askUntil(cfg, responses, "v2-", r -> r.getIndexVersion() == 2 && r.getItems().contains(fresh));
      cancelAfterNextCheckpoint(job, checkpoints);

      job = startFromLatestCheckpoint(cfg, checkpoints);
      RetrievalResponse after = fx.askUntil(cfg, responses, "after-", r -> r.getStatus() == ResponseStatus.OK);
      assertEquals(2, after.getIndexVersion());
      assertTrue(after.getItems().contains(fresh), "the change was lost in the restart: " + after.getItems());
    } finally {
      cancelIfRunning(job);
    }
  }

  /**
   * state.ttl-ms turned on, then off again, between restarts from a checkpoint: every user's history
   * carries over both ways (Flink 2.2 migrates keyed state between TTL and no TTL), so a deployment
   * need not give up its users' behaviour to start or stop expiring it.
   */
  @Test
  void turningStateTtlOnAndOffKeepsEveryUsersHistory() throws Exception {
    Path checkpoints = dir.resolve("chk-ttl");
    ServingConfig noTtl = fx.config("rt", checkpoints, Map.of("parallelism", "1", "state.ttl-ms", "0"));
    fx.publishIndex(noTtl);
    fx.sendHistories(noTtl, USERS);
    ServingConfig ttl = noTtl.with(Map.of("state.ttl-ms", Long.toString(7L * 24 * 3600 * 1000)));
    JobClient job = ServingFixture.startJob(noTtl, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(noTtl.get(ServingOptions.TOPIC_RESPONSES))) {
      fx.askUntil(noTtl, responses, "probe-", r -> r.getStatus() == ResponseStatus.OK);
      int round = 0;
      for (ServingConfig next : List.of(ttl, noTtl)) {
        cancelAfterNextCheckpoint(job, checkpoints);
        job = startFromLatestCheckpoint(next, checkpoints);
        List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.newList();
        String prefix = "ttl-" + round++ + "-";
        send(next, prefix, 0, USERS);
        ServingFixture.pollUntil(responses, got, l -> answered(l, prefix) >= USERS, Duration.ofMinutes(3));
        Map<String, RetrievalResponse> byId = ServingFixture.answers(got, prefix, new HashMap<>());
        assertEquals(USERS, byId.size());
        for (RetrievalResponse r : byId.values()) {   // COLD_START would be a user whose history was lost
          assertEquals(ResponseStatus.OK, r.getStatus(), r.getRequestId() + " with state.ttl-ms "
              + next.get(ServingOptions.STATE_TTL_MS) + ": " + r.getDetail());
        }
      }
    } finally {
      cancelIfRunning(job);
    }
  }

  /** Serving settings (parallelism 1) for topics named with {@code prefix}, the index published, every user's history sent. */
  private static ServingConfig servedWithHistories(String prefix, Path checkpoints) throws Exception {
    ServingConfig cfg = fx.config(prefix, checkpoints, Map.of("parallelism", "1"));
    fx.publishIndex(cfg);
    fx.sendHistories(cfg, USERS);
    return cfg;
  }

  /** Cancels {@code job} once a checkpoint begun after what it has answered so far is complete. */
  private static void cancelAfterNextCheckpoint(JobClient job, Path checkpoints) throws Exception {
    awaitCheckpointAfter(checkpoints, ServingFixture.checkpointNumber(ServingFixture.latestCheckpoint(checkpoints)));
    job.cancel().get();
  }

  /** Starts the job with {@code cfg} from the newest checkpoint under {@code checkpoints}. */
  private static JobClient startFromLatestCheckpoint(ServingConfig cfg, Path checkpoints) throws Exception {
    return ServingFixture.startJob(cfg, ServingFixture.latestCheckpoint(checkpoints).toUri().toString());
  }

  /** A job that failed between a cancel and the restart after it is already over. */
  private static void cancelIfRunning(JobClient job) throws Exception {
    if (!job.getJobStatus().get().isGloballyTerminalState()) {
      job.cancel().get();
    }
  }

  private static void send(ServingConfig cfg, String prefix, int from, int n) {
    for (int i = from; i < from + n; i++) {
      fx.sendRequest(cfg, ServingFixture.request(prefix + i, i % USERS, 10));
    }
    fx.producer.flush();
  }

  /** Sends requests {@code from} .. {@code to - 1} in rounds of 50, each answered before the next. */
  private static void sendPaced(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses,
                                List<ConsumerRecord<byte[], byte[]>> got, String prefix, int from, int to) {
    for (int i = from; i < to; i += 50) {
      int n = Math.min(50, to - i);
      send(cfg, prefix, i, n);
      long want = i + n;
      ServingFixture.pollUntil(responses, got, l -> answered(l, prefix) >= want, Duration.ofMinutes(1));
    }
  }

  private static long answered(List<ConsumerRecord<byte[], byte[]>> records, String prefix) {
    return ServingFixture.distinct(records, prefix);
  }

  /**
   * Waits for a checkpoint numbered above {@code after + 1}: one begun after what was answered, so
   * the state it restores holds it.
   */
  private static void awaitCheckpointAfter(Path root, long after) throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < end) {
      try {
        if (ServingFixture.checkpointNumber(ServingFixture.latestCheckpoint(root)) > after + 1) {
          return;
        }
      } catch (AssertionError none) {
        // no completed checkpoint yet
      }
      Thread.sleep(200);
    }
    throw new AssertionError("no new checkpoint within 60 s");
  }
}
