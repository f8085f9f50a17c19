package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.schemas.CandidateFeed;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The serving job end to end on a real in-process KRaft broker and a Flink MiniCluster, with the
 * attention fixture model served through ONNX Runtime over a 2,000-item snapshot.
 */
class ServingJobTest {
  private static final long EARLY_STAMP_MICROS = 100_000;

  private static final AvroCodec<RetrievalResponse> RESPONSES = AvroCodec.of(RetrievalResponse.class);
  private static final AvroCodec<DeadLetter> DEAD = AvroCodec.of(DeadLetter.class);
  private static final AvroCodec<CandidateFeed> FEED = AvroCodec.of(CandidateFeed.class);
  private static final int USERS = 200;

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

  private static JobClient startJob(ServingConfig cfg, String restorePath) throws Exception {
    return ServingFixture.startJob(cfg, restorePath);
  }

  /** Sends probe requests until one is answered from the index (the descriptor reached broadcast state). */
  private static void awaitServing(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses, JobClient job)
      throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    int probe = 0;
    while (System.nanoTime() < end) {
      if (job.getJobStatus().get().isGloballyTerminalState()) {
        job.getJobExecutionResult().get();   // throws with the job's failure
        throw new AssertionError("the job ended before serving");
      }
      fx.sendRequest(cfg, ServingFixture.request("probe-" + probe++, 0, 10));
      fx.producer.flush();
      for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(1500))) {
        RetrievalResponse resp = RESPONSES.decode(r.value());
        if (resp.getStatus() == ResponseStatus.OK || resp.getStatus() == ResponseStatus.COLD_START) {
          return;
        }
      }
    }
    throw new AssertionError("the job never answered a probe from the index");
  }

  private static Map<String, RetrievalResponse> answers(List<ConsumerRecord<byte[], byte[]>> records, String prefix,
                                                         Map<String, Integer> counts) throws IOException {
    return ServingFixture.answers(records, prefix, counts);
  }

  private static long distinct(List<ConsumerRecord<byte[], byte[]>> records, String prefix) {
    return ServingFixture.distinct(records, prefix);
  }

  @Test
  void answersEveryRequestExactlyOnceAndDeadLettersMalformedRecords() throws Exception {
    ServingConfig cfg = fx.config("t1", dir.resolve("chk-t1"), Map.of());
    fx.publishIndex(cfg);
    fx.sendHistories(cfg, USERS);
    JobClient job = startJob(cfg, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES));
         KafkaConsumer<byte[], byte[]> dead = fx.consumer(cfg.get(ServingOptions.TOPIC_DEAD_LETTER));
         KafkaConsumer<byte[], byte[]> feed = fx.consumer(cfg.get(ServingOptions.TOPIC_CANDIDATES))) {
      awaitServing(cfg, responses, job);

      Random rnd = new Random(5);
      int requests = 10_000;
      int malformed = 0;
      for (int i = 0; i < requests; i++) {
        RetrievalRequest r = ServingFixture.request("req-" + i, rnd.nextInt(USERS + 20), 20 + rnd.nextInt(100));
        if (i % 100 == 7) {
          r.setK(0);             // invalid: k out of range
        } else if (i % 100 == 13) {
          r.setMode("telepathy");   // invalid: unknown mode
        }
        // a third carry no send stamp, a third the client's, a third one taken 100 ms before the send
        fx.sendRequest(cfg, r, i % 3 == 0 ? -1 : SentAtHeader.nowMicros() - (i % 3 == 2 ? EARLY_STAMP_MICROS : 0));
        if (i % 10 == 5) {
          fx.send(malformedTopic(cfg, malformed), "bad", malformedValue(malformed, rnd));
          malformed++;
        }
      }
      // records within what the broker takes that would make answers or dead letters it refuses: a
      // small request with a 1.2 MB header (the answer carries it back) and an index descriptor
      // with no checksum and a 1.2 MB uri of control characters (its text runs to 7 MB)
      ProducerRecord<byte[], byte[]> bigHeader = new ProducerRecord<>(cfg.get(ServingOptions.TOPIC_REQUESTS),
          "1".getBytes(StandardCharsets.UTF_8), fx.encodeRequest(ServingFixture.request("big-header", 1, 10)));
      bigHeader.headers().add("trace", new byte[1_200_000]);
      fx.producer.send(bigHeader);
      IndexDescriptor hostile = IndexDescriptor.newBuilder(fx.index).setSha256("").setUri("\u0001".repeat(1_200_000)).build();
      fx.send(cfg.get(ServingOptions.TOPIC_INDEX_UPDATES), "hostile", AvroCodec.of(IndexDescriptor.class).encode(hostile));
      // a trigger event pushes a retrieval to the candidate feed
      fx.sendEvent(cfg, UserEvent.newBuilder().setUserId(3).setItemId(fx.corpus.itemIds()[5]).setTimestampMillis(10_000_000)
          .setTrigger(true).build());
      fx.producer.flush();
      assertEquals(1000, malformed);

      List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.pollUntil(responses, ServingFixture.newList(),
          l -> distinct(l, "req-") >= requests, Duration.ofMinutes(4));
      // read a little longer: a duplicate would show up now
      ServingFixture.pollUntil(responses, got, l -> false, Duration.ofSeconds(3));
      Map<String, Integer> counts = new HashMap<>();
      Map<String, RetrievalResponse> byId = answers(got, "req-", counts);
      assertEquals(requests, byId.size(), "every request answered");
      assertTrue(counts.values().stream().allMatch(c -> c == 1), "no request answered twice");
      assertEquals(0, distinct(got, "big-header"), "a request refused unread is dead-lettered, not answered");
      int ok = 0;
      for (int i = 0; i < requests; i++) {
        RetrievalResponse resp = byId.get("req-" + i);
        if (i % 100 == 7 || i % 100 == 13) {
          assertEquals(ResponseStatus.INVALID, resp.getStatus(), resp.toString());
          assertFalse(resp.getDetail().isEmpty());
        } else {
          // users past USERS never had an event: answered from the profile alone, and said so
          assertEquals(resp.getUserId() < USERS ? ResponseStatus.OK : ResponseStatus.COLD_START, resp.getStatus(),
              resp.toString());
          assertEquals(fx.index.getVersion(), resp.getIndexVersion());
          assertFalse(resp.getItems().isEmpty());
          ok += resp.getStatus() == ResponseStatus.OK ? 1 : 0;
          // where its time went, stage by stage, adding up to no more than the job's latency
          assertTrue(resp.getTimings().keySet().containsAll(List.of("kafka_in", "keyby", "state", "queue",
              "user_network", "walk", "scorer", "to_router")), resp.getTimings().toString());
          double stages = resp.getTimings().values().stream().mapToDouble(Float::doubleValue).sum();
          assertTrue(stages <= resp.getLatencyMillis() + 0.1 && resp.getTimings().values().stream().allMatch(v -> v >= 0),
              "stages " + resp.getTimings() + " vs latency " + resp.getLatencyMillis());
          if (i % 3 == 2) {
            // timed from the client's stamp, not from the record's timestamp 100 ms later
            double early = EARLY_STAMP_MICROS / 1e3;
            assertTrue(resp.getLatencyMillis() >= early && resp.getTimings().get("kafka_in") >= early,
                "an early stamp starts the clock: " + resp.getLatencyMillis() + " ms, " + resp.getTimings());
          }
        }
      }
      assertTrue(ok > requests / 2, "users with history get OK answers: " + ok);
      ConsumerRecord<byte[], byte[]> one = got.stream().filter(r -> new String(r.key(), StandardCharsets.UTF_8).equals("req-42"))
          .findFirst().orElseThrow();
      Header corr = one.headers().lastHeader("correlation-id");
      assertNotNull(corr, "correlation header copied");
      assertEquals("corr-req-42", new String(corr.value(), StandardCharsets.UTF_8));

      List<ConsumerRecord<byte[], byte[]>> dl = ServingFixture.pollUntil(dead, ServingFixture.newList(),
          l -> l.size() >= 1002, Duration.ofMinutes(1));
      ServingFixture.pollUntil(dead, dl, l -> false, Duration.ofSeconds(1));
      assertEquals(1002, dl.size(), "each malformed record dead-lettered once");
      for (ConsumerRecord<byte[], byte[]> r : dl) {
        DeadLetter d = DEAD.decode(r.value());
        assertFalse(d.getReason().isBlank());
        assertTrue(d.getTopic().startsWith("t1-"), d.getTopic());
        assertTrue(d.getOffset() >= 0);
      }
      assertTrue(dl.stream().anyMatch(r -> reason(r).contains("exceeds the limit")), "oversize reason");
      assertTrue(dl.stream().anyMatch(r -> reason(r).contains("written with an unknown schema")), "unknown schema reason");
      assertTrue(dl.stream().anyMatch(r -> reason(r).contains("(key, value and headers) exceeds the limit of 65536 bytes")),
          "a request whose headers are too large is refused before its answer could be");
      assertTrue(dl.stream().anyMatch(r -> reason(r).equals("cannot decode: index descriptor version "
          + fx.index.getVersion() + " refused: sha256 must be 64 hex digits (it has 0 characters)")),
          "a bad descriptor's reason names the field, not the record");
      assertTrue(dl.stream().allMatch(r -> reason(r).length() < 1100), "reasons stay short");
      assertTrue(dl.stream().allMatch(r -> reason(r).startsWith("cannot decode: ") && reason(r).length() > 30),
          "every reason says what is wrong, not only an exception's name");

      List<ConsumerRecord<byte[], byte[]>> fed = ServingFixture.pollUntil(feed, ServingFixture.newList(),
          l -> !l.isEmpty(), Duration.ofSeconds(30));
      assertEquals(1, fed.size());
      CandidateFeed f = FEED.decode(fed.get(0).value());
      assertEquals(3, f.getUserId());
      assertEquals(50, f.getItems().size());
      assertFalse(f.getItems().contains(fx.corpus.itemIds()[5]), "the feed excludes items the user has seen");
      assertEquals(JobStatus.RUNNING, job.getJobStatus().get());
      assertMetrics(requests);
    } finally {
      job.cancel().get();
    }
  }

  /** The job reports its serving metrics through Flink's metric system. */
  private static void assertMetrics(int requests) {
    org.apache.flink.metrics.Counter answers = (org.apache.flink.metrics.Counter) CollectingReporter.find("nann.answers")
        .orElseThrow(() -> new AssertionError("no nann.answers counter; metrics: " + CollectingReporter.METRICS.keySet()));
    assertTrue(answers.getCount() >= requests, "answers counted: " + answers.getCount());
    org.apache.flink.metrics.Histogram e2e = (org.apache.flink.metrics.Histogram) CollectingReporter
        .find("nann.endToEndLatencyMs").orElseThrow();
    assertTrue(e2e.getCount() >= requests);
    org.apache.flink.metrics.Histogram scored = (org.apache.flink.metrics.Histogram) CollectingReporter
        .find("nann.itemsScoredPerRequest").orElseThrow();
    assertTrue(scored.getStatistics().getMean() > 0);
    assertTrue(CollectingReporter.find("nann.engineLatencyMs").isPresent());
    assertTrue(CollectingReporter.find("nann.answersPerSecond").isPresent());
    assertTrue(CollectingReporter.find("nann.batchFill").isPresent());
    assertTrue(CollectingReporter.find("nann.inFlight").isPresent());
    assertTrue(CollectingReporter.find("nann.freshItems").isPresent());
    assertEquals(fx.index.getVersion(), ((org.apache.flink.metrics.Gauge<?>) CollectingReporter.find("nann.indexVersion")
        .orElseThrow()).getValue());
    assertTrue(((Number) ((org.apache.flink.metrics.Gauge<?>) CollectingReporter.find("nann.indexAgeMs").orElseThrow())
        .getValue()).longValue() >= 0);
    assertEquals("fixture-attention-d16-s7", ((org.apache.flink.metrics.Gauge<?>) CollectingReporter
        .find("nann.modelVersion").orElseThrow()).getValue());
    assertTrue(((Number) ((org.apache.flink.metrics.Gauge<?>) CollectingReporter.find("nann.modelAgeMs").orElseThrow())
        .getValue()).longValue() >= 0);
    assertTrue(((org.apache.flink.metrics.Counter) CollectingReporter.find("nann.deadLetters").orElseThrow()).getCount() > 0);
  }

  private static String reason(ConsumerRecord<byte[], byte[]> r) {
    try {
      return DEAD.decode(r.value()).getReason();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static String malformedTopic(ServingConfig cfg, int i) {
    return switch (i % 3) {
      case 0 -> cfg.get(ServingOptions.TOPIC_REQUESTS);
      case 1 -> cfg.get(ServingOptions.TOPIC_USER_EVENTS);
      default -> cfg.get(ServingOptions.TOPIC_INDEX_UPDATES);
    };
  }

  /** Four kinds in turn: random bytes, another record's schema, a truncated body, an oversize value. */
  private static byte[] malformedValue(int i, Random rnd) {
    switch ((i / 3) % 4) {
      case 0 -> {
        byte[] b = new byte[1 + rnd.nextInt(200)];
        rnd.nextBytes(b);
        return b;
      }
      case 1 -> {
        // a valid record of another schema than the topic's (user-events: a dead letter; others: a user event)
        return i % 3 != 1
            ? fx.encodeEvent(UserEvent.newBuilder().setUserId(1).setItemId(1).setTimestampMillis(1).build())
            : AvroCodec.of(DeadLetter.class).encode(DeadLetter.newBuilder().setTopic("x").setPartition(0).setOffset(0)
                .setReason("not a request").build());
      }
      case 2 -> {
        byte[] full = fx.encodeRequest(ServingFixture.request("truncated-" + i, 1, 5));
        return Arrays.copyOf(full, 12);   // header and fingerprint only: required fields missing
      }
      default -> {
        byte[] big = new byte[70_000];
        byte[] head = fx.encodeRequest(ServingFixture.request("big-" + i, 1, 5));
        System.arraycopy(head, 0, big, 0, head.length);
        return big;
      }
    }
  }

  @Test
  void restartFromCheckpointMidStreamStillAnswersExactlyOnce() throws Exception {
    Path checkpoints = dir.resolve("chk-t2");
    ServingConfig cfg = fx.config("t2", checkpoints, Map.of());
    fx.publishIndex(cfg);
    fx.sendHistories(cfg, USERS);
    JobClient job = startJob(cfg, null);
    int requests = 6_000;
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitServing(cfg, responses, job);
      for (int i = 0; i < requests / 2; i++) {
        fx.sendRequest(cfg, ServingFixture.request("req-" + i, i % USERS, 50));
      }
      fx.producer.flush();
      List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.pollUntil(responses, ServingFixture.newList(),
          l -> distinct(l, "req-") >= requests / 6, Duration.ofMinutes(2));
      assertTrue(distinct(got, "req-") >= requests / 6, "some answers committed before the stop");
      // stop mid-stream: a checkpoint has completed (answers are visible), requests are still queued
      job.cancel().get();
      Path latest = ServingFixture.latestCheckpoint(checkpoints);
      for (int i = requests / 2; i < requests; i++) {
        fx.sendRequest(cfg, ServingFixture.request("req-" + i, i % USERS, 50));
      }
      fx.producer.flush();
      job = startJob(cfg, latest.toUri().toString());
      ServingFixture.pollUntil(responses, got, l -> distinct(l, "req-") >= requests, Duration.ofMinutes(4));
      ServingFixture.pollUntil(responses, got, l -> false, Duration.ofSeconds(4));
      Map<String, Integer> counts = new HashMap<>();
      Map<String, RetrievalResponse> byId = answers(got, "req-", counts);
      assertEquals(requests, byId.size(), "every request answered across the restart");
      List<String> twice = counts.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).toList();
      assertTrue(twice.isEmpty(), "answered twice: " + twice);

      // restored once more with nothing left to answer: the index the checkpoint names loads before any
      // request comes (else the first request after a restore loads it while the others queue behind)
      long answered = ServingFixture.checkpointNumber(ServingFixture.latestCheckpoint(checkpoints));
      long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (ServingFixture.checkpointNumber(ServingFixture.latestCheckpoint(checkpoints)) < answered + 2
          && System.nanoTime() < end) {
        Thread.sleep(100);
      }
      job.cancel().get();
      // ... and with state TTL turned off across it (on by default): the users' behaviour carries over
      job = startJob(cfg.with(Map.of("state.ttl-ms", "0")), ServingFixture.latestCheckpoint(checkpoints).toUri().toString());
      awaitGauges(job, "nann.indexVersion", 1, (int) fx.index.getVersion(), Duration.ofSeconds(30));
      RetrievalResponse after = fx.askUntil(cfg, responses, "after-ttl-off-", r -> true);
      assertEquals(ResponseStatus.OK, after.getStatus(), "user 1's behaviour survived the restore: " + after);
    } finally {
      job.cancel().get();
    }
  }

  @Test
  void errorStatusesNoIndexTimeoutAndScorerError() throws Exception {
    ServingConfig cfg = fx.config("t3", dir.resolve("chk-t3"), Map.of());
    JobClient job = startJob(cfg, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES));
         KafkaConsumer<byte[], byte[]> feed = fx.consumer(cfg.get(ServingOptions.TOPIC_CANDIDATES))) {
      // no descriptor on index-updates yet
      long feedDropped = count("nann.feedDropped");
      fx.sendEvent(cfg, UserEvent.newBuilder().setUserId(1).setItemId(fx.corpus.itemIds()[5]).setTimestampMillis(1_000)
          .setTrigger(true).build());
      RetrievalResponse noIndex = askUntil(cfg, responses, "no-index-", r -> true);
      assertEquals(ResponseStatus.NO_INDEX, noIndex.getStatus(), noIndex.toString());
      // the trigger's answer (NO_INDEX) is not pushed as an empty list of candidates
      awaitCount("nann.feedDropped", feedDropped + 1);

      fx.publishIndex(cfg);
      awaitServing(cfg, responses, job);
      fx.sendEvent(cfg, UserEvent.newBuilder().setUserId(1).setItemId(fx.corpus.itemIds()[6]).setTimestampMillis(2_000)
          .setTrigger(true).build());
      fx.producer.flush();
      List<ConsumerRecord<byte[], byte[]>> fed = ServingFixture.pollUntil(feed, ServingFixture.newList(),
          l -> !l.isEmpty(), Duration.ofSeconds(30));
      ServingFixture.pollUntil(feed, fed, l -> false, Duration.ofSeconds(2));
      assertEquals(1, fed.size(), "only the trigger answered with an index reaches the feed");
      assertEquals(50, FEED.decode(fed.get(0).value()).getItems().size());
      assertEquals(2, FEED.decode(fed.get(0).value()).getEventSeq(), "the push names the user's event count");

      // triggers sent without pause: the first is taken, the rest within feed.min-interval-ms push nothing
      long throttled = count("nann.feedThrottled");
      for (int i = 0; i < 4; i++) {
        fx.sendEvent(cfg, UserEvent.newBuilder().setUserId(1).setItemId(fx.corpus.itemIds()[7 + i])
            .setTimestampMillis(3_000 + i).setTrigger(true).build());
      }
      fx.producer.flush();
      awaitCount("nann.feedThrottled", throttled + 3);
      List<ConsumerRecord<byte[], byte[]>> burst = ServingFixture.pollUntil(feed, ServingFixture.newList(),
          l -> !l.isEmpty(), Duration.ofSeconds(30));
      ServingFixture.pollUntil(feed, burst, l -> false, Duration.ofSeconds(2));
      assertEquals(1, burst.size(), "one push for a burst of four triggers");
      assertEquals(3, FEED.decode(burst.get(0).value()).getEventSeq());
      assertEquals(throttled + 3, count("nann.feedThrottled"));
      RetrievalRequest late = ServingFixture.request("late", 1, 10);
      late.setDeadlineMillis(System.currentTimeMillis() - 1);
      fx.sendRequest(cfg, late);
      fx.producer.flush();
      RetrievalResponse timeout = askUntil(cfg, responses, null, r -> r.getRequestId().equals("late"));
      assertEquals(ResponseStatus.TIMEOUT, timeout.getStatus(), timeout.toString());

      // an index of another dimension than every accepted model: SCORER_ERROR per request, naming both
      dev.nann.corpus.Corpus wide = dev.nann.corpus.SyntheticCorpus.generate(300, 64, 10, 3);
      fx.publishIndex(cfg, new dev.nann.indexsync.SnapshotPublisher(dir.resolve("t3-d64"), 16, 40, 1)
          .publish(2, wide.embeddings(), 64, wide.itemIds(), 1, n -> { }));
      RetrievalResponse wrongDim = askUntil(cfg, responses, "after-index-", r -> r.getStatus() == ResponseStatus.SCORER_ERROR);
      assertTrue(wrongDim.getDetail().contains("no accepted model scores items of dim 64"), wrongDim.getDetail());
      assertEquals(2L, wrongDim.getIndexVersion());
    } finally {
      job.cancel().get();
    }
  }

  @Test
  void hotModelSwapUnderLoadFailsNoRequestAndOnlyMovesForward() throws Exception {
    ServingConfig cfg = fx.config("t6", dir.resolve("chk-t6"), Map.of());
    fx.publishIndex(cfg);
    fx.sendHistories(cfg, USERS);
    JobClient job = startJob(cfg, null);
    String first = dev.nann.scorer.ModelSpec.read(ServingFixture.MODEL).version();
    Map<String, Long> sentAt = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    Thread load = new Thread(() -> {
      for (int i = 0; !stop.get(); i++) {   // ~100 requests/s until told to stop
        String id = "swap-" + i;
        sentAt.put(id, System.currentTimeMillis());   // before the send: "sent after t" is then certain
        fx.sendRequest(cfg, ServingFixture.request(id, i % USERS, 50));
        if (i % 10 == 9) {
          fx.producer.flush();
          sleepQuietly(100);
        }
      }
      fx.producer.flush();
    }, "swap-load");
    List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.newList();
    Map<String, Long> firstSeen = new HashMap<>();   // model version -> when an answer naming it first arrived
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitServing(cfg, responses, job);
      load.start();
      pollResponses(responses, got, firstSeen, () -> got.size() > 200);
      fx.publishModel(cfg, "dnn", 16, "m-2", false);
      pollResponses(responses, got, firstSeen, () -> firstSeen.containsKey("m-2"));
      fx.publishModel(cfg, "attention", 16, "m-3", true);    // corrupt score.onnx: refused by its checksum
      fx.publishModel(cfg, "attention", 64, "m-4", false);   // dim 64 against a d16 index: refused
      fx.publishModel(cfg, "two-sided", 16, "m-1", false);   // older than m-2: ignored
      pollResponses(responses, got, firstSeen, () -> gauge("nann.refusedModels") >= 2);
      fx.publishModel(cfg, "two-sided", 16, "m-5", false);
      pollResponses(responses, got, firstSeen, () -> firstSeen.containsKey("m-5"));
      long settle = System.currentTimeMillis() + 2000;
      pollResponses(responses, got, firstSeen, () -> System.currentTimeMillis() > settle);
      stop.set(true);
      load.join();
      pollResponses(responses, got, firstSeen, () -> distinct(got, "swap-") >= sentAt.size());

      Map<String, RetrievalResponse> byId = answers(got, "swap-", new HashMap<>());
      assertEquals(sentAt.size(), byId.size(), "every request under load answered");
      List<String> order = List.of(first, "m-2", "m-5");
      for (RetrievalResponse r : byId.values()) {
        assertEquals(ResponseStatus.OK, r.getStatus(), "no request fails during a swap: " + r);
        int rank = order.indexOf(r.getModelVersion());
        assertTrue(rank >= 0, "answered by a refused or ignored model: " + r);
        long sent = sentAt.get(r.getRequestId());
        for (int v = rank + 1; v < order.size(); v++) {
          Long seen = firstSeen.get(order.get(v));
          assertFalse(seen != null && sent > seen, r.getRequestId() + " was sent after an answer from "
              + order.get(v) + " arrived but was answered by " + r.getModelVersion());
        }
      }
      assertEquals(2, gauge("nann.refusedModels"), "m-3 and m-4 refused, m-1 ignored");
      assertEquals("m-5", String.valueOf(CollectingReporter.find("nann.modelVersion")
          .map(g -> ((org.apache.flink.metrics.Gauge<?>) g).getValue()).orElse(null)));
    } finally {
      stop.set(true);
      load.join();
      job.cancel().get();
    }
  }

  /** Polls answers into {@code got}, noting when each model version first answered, until {@code done}. */
  private static void pollResponses(KafkaConsumer<byte[], byte[]> responses, List<ConsumerRecord<byte[], byte[]>> got,
                                    Map<String, Long> firstSeen, java.util.function.BooleanSupplier done)
      throws IOException {
    long end = System.nanoTime() + Duration.ofSeconds(120).toNanos();
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < end, "timed out waiting on the swap");
      for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(200))) {
        got.add(r);
        firstSeen.putIfAbsent(RESPONSES.decode(r.value()).getModelVersion(), System.currentTimeMillis());
      }
    }
  }

  /** Waits up to a minute for a counter or gauge (the sum over subtasks) to reach {@code at least}. */
  private static void awaitCount(String suffix, long atLeast) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (count(suffix) < atLeast && System.nanoTime() < end) {
      Thread.sleep(200);
    }
    assertTrue(count(suffix) >= atLeast, suffix + " reached " + count(suffix) + ", expected " + atLeast);
  }

  private static long count(String suffix) {
    long sum = 0;
    for (Map.Entry<String, org.apache.flink.metrics.Metric> e : CollectingReporter.METRICS.entrySet()) {
      if (e.getKey().endsWith(suffix)) {
        org.apache.flink.metrics.Metric m = e.getValue();
        sum += m instanceof org.apache.flink.metrics.Counter c ? c.getCount()
            : ((Number) ((org.apache.flink.metrics.Gauge<?>) m).getValue()).longValue();
      }
    }
    return sum;
  }

  private static long gauge(String suffix) {
    return CollectingReporter.find(suffix).map(g -> ((Number) ((org.apache.flink.metrics.Gauge<?>) g).getValue())
        .longValue()).orElse(0L);
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void swapsToANewSnapshotRefusesACorruptOneAndNeverGoesBack() throws Exception {
    ServingConfig cfg = fx.config("t4", dir.resolve("chk-t4"), Map.of());
    fx.sendHistories(cfg, 20);
    fx.publishIndex(cfg);
    JobClient job = startJob(cfg, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitServing(cfg, responses, job);

      // version 2: a snapshot with one flipped byte; refused by the engine, version 1 keeps serving
      dev.nann.indexsync.SnapshotPublisher publisher = new dev.nann.indexsync.SnapshotPublisher(dir, 16, 40, 1);
      dev.nann.schemas.IndexDescriptor v2 = publisher.publish(2, fx.corpus.embeddings(), ServingFixture.DIM,
          fx.corpus.itemIds(), 2, n -> { });
      Path v2file = Path.of(java.net.URI.create(v2.getUri()));
      byte[] bytes = Files.readAllBytes(v2file);
      bytes[bytes.length / 2] ^= 0x5A;
      Files.write(v2file, bytes);
      fx.publishIndex(cfg, v2);
      awaitCount("nann.refusedIndexes", 1);
      RetrievalResponse afterCorrupt = askUntil(cfg, responses, "after-corrupt-", r -> true);
      assertEquals(ResponseStatus.OK, afterCorrupt.getStatus(), afterCorrupt.toString());
      assertEquals(1, afterCorrupt.getIndexVersion(), "the previous snapshot keeps serving");

      // a hostile control plane: a real snapshot outside the snapshot root, a path climbing out of it,
      // and a real snapshot whose version is absurdly far ahead (it would freeze every later swap)
      Path outside = Files.createDirectories(dir.getParent().resolve(dir.getFileName() + "-outside"));
      dev.nann.schemas.IndexDescriptor elsewhere = new dev.nann.indexsync.SnapshotPublisher(outside, 16, 40, 1)
          .publish(5, fx.corpus.embeddings(), ServingFixture.DIM, fx.corpus.itemIds(), 2, n -> { });
      fx.publishIndex(cfg, elsewhere);
      fx.publishIndex(cfg, dev.nann.schemas.IndexDescriptor.newBuilder(elsewhere).setVersion(6)
          .setUri("../" + outside.getFileName() + "/" + Path.of(java.net.URI.create(elsewhere.getUri())).getFileName())
          .build());
      fx.publishIndex(cfg, publisher.publish(Long.MAX_VALUE - 1, fx.corpus.embeddings(), ServingFixture.DIM,
          fx.corpus.itemIds(), 2, n -> { }));
      awaitCount("nann.refusedDescriptors", 3);
      RetrievalResponse afterHostile = askUntil(cfg, responses, "after-hostile-", r -> true);
      assertEquals(1, afterHostile.getIndexVersion(), "no hostile descriptor became current");
      assertFalse(afterHostile.getDetail().contains(dir.toString()), "answers never carry file-system details");

      // version 3: a good snapshot; answers move to it
      dev.nann.schemas.IndexDescriptor v3 = publisher.publish(3, fx.corpus.embeddings(), ServingFixture.DIM, fx.corpus.itemIds(), 2, n -> { });
      fx.publishIndex(cfg, v3);
      RetrievalResponse onV3 = askUntil(cfg, responses, "after-v3-", r -> r.getIndexVersion() == 3);
      assertEquals(ResponseStatus.OK, onV3.getStatus());

      // an older descriptor arriving late is ignored: versions only move forward
      fx.publishIndex(cfg);
      Map<String, RetrievalResponse> byId = askMany(cfg, responses, "after-old-", 30, i -> i % 20);
      assertTrue(byId.values().stream().allMatch(r -> r.getIndexVersion() == 3), "never swapped back to version 1");
    } finally {
      job.cancel().get();
    }
  }

  @Test
  void anUpsertedItemIsReturnedAtOnceAndADeletedOneNeverAgain() throws Exception {
    // two subtasks: they share the TaskManager's engine, and each keeps its own copy of its changes
    ServingConfig cfg = fx.config("t5", dir.resolve("chk-t5"), Map.of("parallelism", "2"));
    fx.sendHistories(cfg, 20);
    fx.publishIndex(cfg);
    JobClient job = startJob(cfg, null);
    try (KafkaConsumer<byte[], byte[]> responses = fx.consumer(cfg.get(ServingOptions.TOPIC_RESPONSES))) {
      awaitServing(cfg, responses, job);
      RetrievalResponse before = askUntil(cfg, responses, "before-", r -> r.getStatus() == ResponseStatus.OK);
      long top = before.getItems().get(0);
      // a new item with the top item's embedding: as good as the best, but in no snapshot yet
      List<Float> v = fx.embedding(top);
      // an upsert whose embedding would overflow the score network (NaN for every request, as the fresh
      // set is scored for every request) is dead-lettered, not served
      List<Float> poisoned = new java.util.ArrayList<>(v);
      poisoned.set(0, 1e30f);
      fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(900_002L).setEmbedding(poisoned).build());
      long fresh = 900_001L;
      // stamped a year ahead by a producer's clock: serving orders changes by arrival, so the delete
      // below (stamped now) still takes it out
      fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(fresh).setEmbedding(v)
          .setUpdatedAtMillis(System.currentTimeMillis() + 365L * 24 * 3600 * 1000).build());
      RetrievalResponse withFresh = askUntil(cfg, responses, "fresh-", r -> r.getItems().contains(fresh));
      assertEquals(fx.index.getVersion(), withFresh.getIndexVersion(), "served from the fresh set, not a new snapshot");

      // delete the old top item: once an answer lacks it, no later answer has it
      fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(top).setDeleted(true).build());
      askUntil(cfg, responses, "deleted-", r -> r.getStatus() == ResponseStatus.OK && !r.getItems().contains(top));
      Map<String, RetrievalResponse> byId = askMany(cfg, responses, "after-delete-", 30, i -> 1);
      assertTrue(byId.values().stream().noneMatch(r -> r.getItems().contains(top)), "a deleted item came back");
      assertTrue(byId.values().stream().allMatch(r -> r.getItems().contains(fresh)), "the fresh item stays returnable");

      fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(fresh).setDeleted(true)
          .setUpdatedAtMillis(System.currentTimeMillis()).build());
      askUntil(cfg, responses, "fresh-deleted-", r -> r.getStatus() == ResponseStatus.OK && !r.getItems().contains(fresh));

      // changes the live snapshot already says (deletes of ids it lacks, items published again as
      // they are) are served at once and kept nowhere: no later snapshot would clear them from the
      // checkpointed change log, which would grow without bound
      for (int i = 0; i < 300; i++) {
        fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(950_000L + i).setDeleted(true).build());
        long again = fx.corpus.itemIds()[i + 1];
        if (again != top) {
          fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(again).setEmbedding(fx.embedding(again))
              .build());
        }
      }
      long marker = 900_003L;   // applied after all of them
      fx.sendItem(cfg, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(marker).setEmbedding(v).build());
      askUntil(cfg, responses, "marker-", r -> r.getItems().contains(marker));
      // each subtask's log holds the delete of the index's top item and the marker; the fresh item's
      // delete left with it (no snapshot holds the fresh item)
      awaitGauges(job, "nann.catalogChangesKept", 2, 2, Duration.ofSeconds(30));
    } finally {
      job.cancel().get();
    }
  }

  /** Waits until each of {@code job}'s {@code subtasks} gauges named {@code suffix} reads {@code want}. */
  private static void awaitGauges(JobClient job, String suffix, int subtasks, int want, Duration within)
      throws InterruptedException {
    String id = job.getJobID().toString();
    long end = System.nanoTime() + within.toNanos();
    List<Integer> values = List.of();
    while (System.nanoTime() < end) {
      values = CollectingReporter.METRICS.entrySet().stream()
          .filter(e -> e.getKey().contains(id) && e.getKey().endsWith(suffix))
          .map(e -> ((Number) ((org.apache.flink.metrics.Gauge<?>) e.getValue()).getValue()).intValue()).toList();
      if (values.size() == subtasks && values.stream().allMatch(x -> x == want)) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError(suffix + " per subtask: " + values + ", want " + want + " on each of " + subtasks);
  }

  /** Sends {@code n} requests (k = 10) and returns their answers by id, asserting each is answered once. */
  private static Map<String, RetrievalResponse> askMany(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses,
                                                        String prefix, int n, java.util.function.IntToLongFunction user)
      throws IOException {
    for (int i = 0; i < n; i++) {
      fx.sendRequest(cfg, ServingFixture.request(prefix + i, user.applyAsLong(i), 10));
    }
    fx.producer.flush();
    List<ConsumerRecord<byte[], byte[]>> got = ServingFixture.pollUntil(responses, ServingFixture.newList(),
        l -> distinct(l, prefix) >= n, Duration.ofSeconds(60));
    Map<String, RetrievalResponse> byId = answers(got, prefix, new HashMap<>());
    assertEquals(n, byId.size());
    return byId;
  }

  private static RetrievalResponse askUntil(ServingConfig cfg, KafkaConsumer<byte[], byte[]> responses, String prefix,
                                            java.util.function.Predicate<RetrievalResponse> accept) throws IOException {
    return fx.askUntil(cfg, responses, prefix, accept);
  }

}
