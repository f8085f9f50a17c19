package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.indexsync.ShardedBulkLoad;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.shard.ShardAssignment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Serving a sharded index (S = 2) end to end on a real broker and a MiniCluster at parallelism 2:
 * each request is scattered over the two shard walks and gathered into one answer; answers match the
 * exact top-k; a swap under load never mixes versions; a shard that cannot answer yields a PARTIAL
 * answer naming it; every request is answered exactly once across a restart from a checkpoint.
 */
class ShardedServingTest {
  private static final AvroCodec<RetrievalResponse> RESPONSES = AvroCodec.of(RetrievalResponse.class);
  private static final int SHARDS = 2;
  private static final int USERS = 100;
  private static final int K = 50;

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

  private static ServingConfig config(String prefix, Map<String, String> extra) throws Exception {
    Map<String, String> m = new HashMap<>(Map.of("index.shards", Integer.toString(SHARDS), "parallelism", "2",
        "search.allow-brute", "true", "index.shard-activation-ms", "1500", "engine.queue-capacity", "1000"));
    m.putAll(extra);
    return fx.config(prefix, dir.resolve("chk-" + prefix), m);
  }

  private static JobClient startJob(ServingConfig cfg, String restorePath) throws Exception {
    return ServingFixture.startJob(cfg, restorePath);
  }

  /**
   * The corpus' items (ids shifted by {@code idOffset}) as S shard snapshots of {@code version} and a
   * manifest naming them, in a store of their own, as index-sync publishes a sharded version.
   */
  private static IndexDescriptor publishShards(String name, long version, long idOffset) throws Exception {
    long[] ids = fx.corpus.itemIds().clone();
    for (int i = 0; i < ids.length; i++) {
      ids[i] += idOffset;
    }
    return ShardedBulkLoad.publish(Files.createDirectories(dir.resolve(name)), version, ids, fx.corpus.embeddings(),
        ServingFixture.DIM, SHARDS, 16, 40, 1, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()))
        .descriptor();
  }

  private static RetrievalRequest request(String id, long user, String mode) {
    RetrievalRequest r = ServingFixture.request(id, user, K);
    r.setMode(mode);
    return r;
  }

  private static Map<String, RetrievalResponse> ask(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses,
                                                    List<RetrievalRequest> requests, Map<String, Integer> counts) throws Exception {
    for (RetrievalRequest r : requests) {
      fx.sendRequest(cfg, r);
    }
    fx.producer.flush();
    Set<String> wanted = new HashSet<>();
    requests.forEach(r -> wanted.add(r.getRequestId()));
    Map<String, RetrievalResponse> got = new HashMap<>();
    long end = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (!got.keySet().containsAll(wanted) && System.nanoTime() < end) {
      for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(300))) {
        RetrievalResponse resp = RESPONSES.decode(rec.value());
        if (wanted.contains(resp.getRequestId())) {
          got.put(resp.getRequestId(), resp);
          counts.merge(resp.getRequestId(), 1, Integer::sum);
          var corr = rec.headers().lastHeader("correlation-id");   // through scatter and gather, on the answer once
          assertEquals("corr-" + resp.getRequestId(), corr == null ? null : new String(corr.value(),
              java.nio.charset.StandardCharsets.UTF_8));
          assertEquals(1, rec.headers().toArray().length - (rec.headers().lastHeader("nann-sent-at-us") == null ? 0 : 1),
              "no header repeated");
        }
      }
    }
    assertEquals(wanted, got.keySet(), "every request answered");
    return got;
  }

  /** Sends probes until one is answered OK from the index at {@code version}. */
  private static void awaitVersion(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses, JobClient job,
                                   long version) throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    for (int probe = 0; System.nanoTime() < end; probe++) {
      if (job.getJobStatus().get().isGloballyTerminalState()) {
        job.getJobExecutionResult().get();
        throw new AssertionError("the job ended before serving");
      }
      RetrievalRequest r = request("probe-" + version + "-" + probe, 0, "nann");
      fx.sendRequest(cfg, r);
      fx.producer.flush();
      for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(700))) {
        RetrievalResponse resp = RESPONSES.decode(rec.value());
        if (resp.getIndexVersion() == version && resp.getStatus() == ResponseStatus.OK) {
          return;
        }
      }
    }
    throw new AssertionError("the job never answered from index version " + version);
  }

  private static double overlap(List<Long> got, List<Long> exact) {
    Set<Long> e = new HashSet<>(exact);
    return got.stream().filter(e::contains).count() / (double) exact.size();
  }

  @Test
  void scatterGatherAnswersTheExactTopKOnceAcrossARestart() throws Exception {
    ServingConfig cfg = config("sh1", Map.of());
    fx.sendHistories(cfg, USERS);
    fx.publishIndex(cfg, publishShards("sh1-v1", 1, 0));
    JobClient job = startJob(cfg, null);
    Map<String, Integer> counts = new HashMap<>();
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitVersion(cfg, responses, job, 1);
      List<RetrievalRequest> walks = new ArrayList<>();
      List<RetrievalRequest> exact = new ArrayList<>();
      for (int u = 0; u < USERS; u++) {
        walks.add(request("walk-" + u, u, "nann"));
        exact.add(request("exact-" + u, u, "brute"));
      }
      Map<String, RetrievalResponse> walked = ask(cfg, responses, walks, counts);
      Map<String, RetrievalResponse> exacts = ask(cfg, responses, exact, counts);
      double coverage = 0;
      for (int u = 0; u < USERS; u++) {
        RetrievalResponse w = walked.get("walk-" + u);
        RetrievalResponse b = exacts.get("exact-" + u);
        assertEquals(ResponseStatus.OK, w.getStatus(), w.toString());
        assertEquals(ResponseStatus.OK, b.getStatus(), b.toString());
        assertEquals(K, w.getItems().size(), "k items from the two shards");
        assertEquals(K, new HashSet<>(w.getItems()).size(), "no item twice");
        for (int i = 1; i < w.getScores().size(); i++) {
          assertTrue(w.getScores().get(i - 1) >= w.getScores().get(i), "merged best first");
        }
        Set<Integer> shardsSeen = new HashSet<>();
        w.getItems().forEach(id -> shardsSeen.add(ShardAssignment.shardOf(id, SHARDS)));
        assertEquals(SHARDS, shardsSeen.size(), "items from both shards");
        assertEquals(1, w.getIndexVersion());
        assertTrue(w.getMissingShards().isEmpty());
        coverage += overlap(w.getItems(), b.getItems());
      }
      coverage /= USERS;
      assertTrue(coverage >= 0.95, "the merged walks find the exact top-" + K + ": coverage " + coverage);

      // invalid requests are answered before the scatter, once each, not once per shard
      List<RetrievalRequest> invalid = new ArrayList<>();
      for (int u = 0; u < 5; u++) {
        invalid.add(request("invalid-" + u, u, "telepathy"));
      }
      Map<String, RetrievalResponse> refused = ask(cfg, responses, invalid, counts);
      refused.values().forEach(r -> assertEquals(ResponseStatus.INVALID, r.getStatus(), r.toString()));
      ServingFixture.pollUntil(responses, ServingFixture.newList(), l -> false, Duration.ofSeconds(2)).forEach(rec -> {
        String key = new String(rec.key(), StandardCharsets.UTF_8);
        assertFalse(key.startsWith("invalid-"), "answered twice: " + key);
      });
      invalid.forEach(r -> assertEquals(1, counts.get(r.getRequestId()), r.getRequestId()));

      // a restart from a checkpoint with requests in flight: every request answered exactly once
      List<RetrievalRequest> before = new ArrayList<>();
      for (int i = 0; i < 600; i++) {
        before.add(request("r-" + i, i % USERS, "nann"));
      }
      before.forEach(r -> fx.sendRequest(cfg, r));
      fx.producer.flush();
      List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.pollUntil(responses, ServingFixture.newList(),
          l -> l.stream().filter(r -> new String(r.key(), StandardCharsets.UTF_8).startsWith("r-")).count() >= 100,
          Duration.ofMinutes(2));
      job.cancel().get();
      Path latest = ServingFixture.latestCheckpoint(dir.resolve("chk-sh1"));
      List<RetrievalRequest> after = new ArrayList<>();
      for (int i = 600; i < 1200; i++) {
        after.add(request("r-" + i, i % USERS, "nann"));
      }
      job = startJob(cfg, latest.toUri().toString());
      Map<String, Integer> restartCounts = new HashMap<>();
      for (ConsumerRecord<byte[], byte[]> rec : got) {
        RetrievalResponse resp = RESPONSES.decode(rec.value());
        if (resp.getRequestId().startsWith("r-")) {
          restartCounts.merge(resp.getRequestId(), 1, Integer::sum);
        }
      }
      List<RetrievalRequest> all = new ArrayList<>(before);
      all.addAll(after);
      Map<String, RetrievalResponse> answered = new HashMap<>();
      for (RetrievalRequest r : after) {
        fx.sendRequest(cfg, r);
      }
      fx.producer.flush();
      long end = System.nanoTime() + Duration.ofMinutes(3).toNanos();
      while (restartCounts.size() < all.size() && System.nanoTime() < end) {
        for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(300))) {
          RetrievalResponse resp = RESPONSES.decode(rec.value());
          if (resp.getRequestId().startsWith("r-")) {
            restartCounts.merge(resp.getRequestId(), 1, Integer::sum);
            answered.put(resp.getRequestId(), resp);
          }
        }
      }
      ServingFixture.pollUntil(responses, ServingFixture.newList(), l -> false, Duration.ofSeconds(3))
          .forEach(rec -> {
            try {
              RetrievalResponse resp = RESPONSES.decode(rec.value());
              if (resp.getRequestId().startsWith("r-")) {
                restartCounts.merge(resp.getRequestId(), 1, Integer::sum);
              }
            } catch (java.io.IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          });
      assertEquals(all.size(), restartCounts.size(), "every request answered across the restart");
      List<String> twice = restartCounts.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
      assertTrue(twice.isEmpty(), "answered twice: " + twice);
      assertTrue(answered.values().stream().allMatch(r -> r.getStatus() == ResponseStatus.OK),
          "every answer after the restart whole");
    } finally {
      job.cancel().get();
    }
  }

  @Test
  void aSwapUnderLoadNeverMixesVersionsAndAMissingShardIsFlaggedPartial() throws Exception {
    ServingConfig cfg = config("sh2", Map.of());
    fx.sendHistories(cfg, USERS);
    long offset2 = 1_000_000;
    IndexDescriptor v1 = publishShards("sh2-v1", 1, 0);
    IndexDescriptor v2 = publishShards("sh2-v2", 2, offset2);   // the same items under other ids
    fx.publishIndex(cfg, v1);
    JobClient job = startJob(cfg, null);
    Map<String, Integer> counts = new HashMap<>();
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitVersion(cfg, responses, job, 1);
      // requests flow while version 2 arrives, loads and becomes current
      List<RetrievalRequest> load = new ArrayList<>();
      for (int i = 0; i < 400; i++) {
        load.add(request("swap-" + i, i % USERS, "nann"));
      }
      Thread sender = new Thread(() -> {
        for (int i = 0; i < load.size(); i++) {
          fx.sendRequest(cfg, load.get(i));
          if (i == 50) {
            fx.publishIndex(cfg, v2);
          }
          if (i % 20 == 0) {
            fx.producer.flush();
            sleep(100);
          }
        }
        fx.producer.flush();
      });
      sender.start();
      Map<String, RetrievalResponse> got = new HashMap<>();
      long end = System.nanoTime() + Duration.ofMinutes(2).toNanos();
      while (got.size() < load.size() && System.nanoTime() < end) {
        for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(300))) {
          RetrievalResponse resp = RESPONSES.decode(rec.value());
          if (resp.getRequestId().startsWith("swap-")) {
            got.put(resp.getRequestId(), resp);
          }
        }
      }
      sender.join();
      assertEquals(load.size(), got.size(), "every request answered through the swap");
      Map<Long, Integer> byVersion = new HashMap<>();
      for (RetrievalResponse r : got.values()) {
        assertTrue(r.getStatus() == ResponseStatus.OK || r.getStatus() == ResponseStatus.COLD_START, r.toString());
        byVersion.merge(r.getIndexVersion(), 1, Integer::sum);
        boolean fromV2 = r.getIndexVersion() == 2;
        for (long id : r.getItems()) {
          assertEquals(fromV2, id >= offset2, "request " + r.getRequestId() + " answered from version "
              + r.getIndexVersion() + " holds item " + id + ": the shards mixed versions");
        }
      }
      assertTrue(byVersion.getOrDefault(1L, 0) > 0 && byVersion.getOrDefault(2L, 0) > 0,
          "answers from both versions around the swap: " + byVersion);

      // version 3: shard 1's snapshot disappears after the version was verified and before it is
      // walked: shard 0 answers, the answer says shard 1 is missing
      IndexDescriptor v3 = publishShards("sh2-v3", 3, 0);
      fx.publishIndex(cfg, v3);
      Thread.sleep(3000);   // past the activation delay, no request in between: shard 1 never prefetched it
      Files.delete(Path.of(java.net.URI.create(v3.getShards().get(1).getUri())));
      List<RetrievalRequest> partial = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        partial.add(request("partial-" + i, i, "nann"));
      }
      Map<String, RetrievalResponse> flagged = ask(cfg, responses, partial, counts);
      for (RetrievalResponse r : flagged.values()) {
        assertEquals(3, r.getIndexVersion());
        assertEquals(ResponseStatus.PARTIAL, r.getStatus(), r.toString());
        assertEquals(List.of(1), r.getMissingShards());
        assertTrue(r.getDetail().contains("1 of 2 shards answered"), r.getDetail());
        assertTrue(!r.getItems().isEmpty() && r.getItems().stream().allMatch(id -> ShardAssignment.shardOf(id, SHARDS) == 0),
            "the items of the shard that answered");
      }
    } finally {
      job.cancel().get();
    }
  }

  @Test
  void aShardThatTimesOutYieldsAPartialAnswerNamingIt() throws Exception {
    // shard 0 holds 100 items, shard 1 300,000: an exhaustive scan of shard 1 outlasts a short async
    // timeout, one of shard 0 does not
    int[] sizes = {100, 300_000};
    int d = ServingFixture.DIM;
    long[] ids = new long[sizes[0] + sizes[1]];
    int[] filled = new int[2];
    int n = 0;
    for (long id = 5_000_000L; n < ids.length; id++) {
      int s = ShardAssignment.shardOf(id, SHARDS);
      if (filled[s] < sizes[s]) {
        filled[s]++;
        ids[n++] = id;
      }
    }
    float[] emb = new float[ids.length * d];
    java.util.Random random = new java.util.Random(5);
    for (int i = 0; i < emb.length; i++) {
      emb[i] = (float) random.nextGaussian();
    }
    IndexDescriptor v1 = ShardedBulkLoad.publish(Files.createDirectories(dir.resolve("sh4-v1")), 1, ids, emb, d, SHARDS,
        16, 40, 2, new java.io.PrintStream(java.io.OutputStream.nullOutputStream())).descriptor();
    ServingConfig cfg = config("sh4", Map.of("async.timeout-ms", "100"));
    fx.publishIndex(cfg, v1);
    JobClient job = startJob(cfg, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      // both shards loaded and walking within the timeout
      fx.askUntil(cfg, responses, "walk-", r -> r.getStatus() == ResponseStatus.COLD_START && r.getIndexVersion() == 1);
      for (int i = 0; i < 3; i++) {
        RetrievalRequest scan = request("scan-" + i, 1, "brute");
        fx.sendRequest(cfg, scan);
        fx.producer.flush();
        RetrievalResponse r = fx.askUntil(cfg, responses, null, a -> a.getRequestId().equals(scan.getRequestId()));
        assertEquals(ResponseStatus.PARTIAL, r.getStatus(), r.toString());
        assertEquals(List.of(1), r.getMissingShards());
        assertTrue(r.getDetail().contains("shard 1 TIMEOUT"), r.getDetail());
        assertEquals(K, r.getItems().size(), "k items, all from the shard that answered");
        assertTrue(r.getItems().stream().allMatch(id -> ShardAssignment.shardOf(id, SHARDS) == 0));
        Thread.sleep(1500);   // the abandoned scan ends before the next request
      }
    } finally {
      job.cancel().get();
    }
  }

  @Test
  void freshItemsDeletesAndExclusionsHoldAcrossShards() throws Exception {
    ServingConfig cfg = config("sh3", Map.of());
    fx.sendHistories(cfg, 20);
    fx.publishIndex(cfg, publishShards("sh3-v1", 1, 0));
    JobClient job = startJob(cfg, null);
    AvroCodec<dev.nann.schemas.ItemEmbedding> items = AvroCodec.of(dev.nann.schemas.ItemEmbedding.class);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitVersion(cfg, responses, job, 1);
      RetrievalResponse before = askUntil(cfg, responses, "before-", r -> r.getStatus() == ResponseStatus.OK);
      long top = before.getItems().get(0);
      long second = before.getItems().get(1);
      int row = java.util.Arrays.stream(fx.corpus.itemIds()).boxed().toList().indexOf(top);
      List<Float> v = new ArrayList<>();
      for (int j = 0; j < ServingFixture.DIM; j++) {
        v.add(fx.corpus.embeddings()[row * ServingFixture.DIM + j]);
      }
      // a new item as good as the best, in no snapshot: the shard that owns it scores it, once
      long fresh = 900_001L;
      fx.send(cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS), Long.toString(fresh), items.encode(
          dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(fresh).setEmbedding(v).build()));
      // the best item deleted: no shard returns it any more
      fx.send(cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS), Long.toString(top), items.encode(
          dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(top).setDeleted(true).build()));
      fx.producer.flush();
      askUntil(cfg, responses, "changed-", r -> r.getItems().contains(fresh) && !r.getItems().contains(top));
      List<RetrievalRequest> after = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        RetrievalRequest r = ServingFixture.request("after-" + i, 1, 10);
        r.setExcludeItems(List.of(second));
        after.add(r);
      }
      for (RetrievalResponse r : ask(cfg, responses, after, new HashMap<>()).values()) {
        assertEquals(ResponseStatus.OK, r.getStatus(), r.toString());
        assertEquals(1, r.getItems().stream().filter(id -> id == fresh).count(), "the fresh item once: " + r.getItems());
        assertTrue(!r.getItems().contains(top), "a deleted item came back");
        assertTrue(!r.getItems().contains(second), "an excluded item was returned");
        assertEquals(10, r.getItems().size());
      }
    } finally {
      job.cancel().get();
    }
  }

  private static RetrievalResponse askUntil(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses, String prefix,
                                            java.util.function.Predicate<RetrievalResponse> accept) throws Exception {
    return fx.askUntil(cfg, responses, prefix, accept);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
