package dev.nann.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.jobs.ServingOptions;
import dev.nann.local.LocalStack;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.codec.AvroCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The application client against a real serving job (default, at-least-once responses): every
 * request's future completes with its own answer, a repeated answer (what a job restart can
 * produce) completes nothing twice and is counted, another client's answer is skipped, a request
 * nobody answers times out (its bounded wait went out as its deadline), one whose answer cannot be read fails at once with the reason (and the
 * client reads on), clients that each read one partition get their answers there, and a responses
 * topic that does not exist (or lacks the partition asked for) is refused when the client is made.
 */
class NannClientTest {
  private static final Path MODEL = Path.of(System.getProperty("nann.repo", ".")).resolve("models/fixtures/attention-d16");

  @TempDir
  Path dir;

  @Test
  void eachRequestIsAnsweredOnceAndRepeatsAreDropped() throws Exception {
    Corpus corpus = SyntheticCorpus.generate(2000, 16, 20, 3);
    try (LocalStack stack = LocalStack.start(dir.resolve("stack"), MODEL, corpus.itemIds(), corpus.embeddings(), 16,
        Map.of(), null, System.err)) {
      assertEquals("at-least-once", stack.config.get(ServingOptions.DELIVERY), "low-latency answers are the default");
      stack.client.replayBehaviour(corpus);
      String bootstrap = stack.config.get(ServingOptions.BOOTSTRAP_SERVERS);
      String responsesTopic = stack.config.get(ServingOptions.TOPIC_RESPONSES);
      try (NannClient nann = new NannClient(bootstrap, stack.config.get(ServingOptions.TOPIC_REQUESTS), responsesTopic,
          Map.of())) {
        RetrievalResponse first = null;
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while ((first == null || first.getStatus() != ResponseStatus.OK) && System.nanoTime() < end) {
          first = nann.retrieve(NannClient.request(3, 20), Duration.ofSeconds(30)).get();   // until the index is in
        }
        assertEquals(ResponseStatus.OK, first.getStatus(), String.valueOf(first));

        List<CompletableFuture<RetrievalResponse>> many = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
          var r = NannClient.request(i % 20, 20);
          ids.add(r.getRequestId());
          many.add(nann.retrieve(r, Duration.ofSeconds(30)));
        }
        for (int i = 0; i < 50; i++) {
          RetrievalResponse r = many.get(i).get();
          assertEquals(ids.get(i), r.getRequestId(), "each future gets its own request's answer");
          assertEquals(ResponseStatus.OK, r.getStatus());
        }

        // a repeat of an answer (as after a restart) and an answer for another client's request
        AvroCodec<RetrievalResponse> codec = AvroCodec.of(RetrievalResponse.class);
        RetrievalResponse other = RetrievalResponse.newBuilder(first).setRequestId("someone-else").build();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
          p.send(new ProducerRecord<>(responsesTopic, key(first), codec.encode(first)));
          p.send(new ProducerRecord<>(responsesTopic, key(other), codec.encode(other)));
          p.flush();
        }
        end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (nann.repeatsDropped() < 1 && System.nanoTime() < end) {
          Thread.sleep(20);
        }
        assertEquals(1, nann.repeatsDropped(), "the repeat is dropped and counted; another client's answer is not a repeat");

      }
      // a fleet of clients each reading one partition (the local stack's topics have two): the job writes
      // each answer where its request asks
      try (NannClient zero = new NannClient(bootstrap, stack.config.get(ServingOptions.TOPIC_REQUESTS), responsesTopic, 0,
          Map.of());
           NannClient one = new NannClient(bootstrap, stack.config.get(ServingOptions.TOPIC_REQUESTS), responsesTopic, 1,
               Map.of());
           KafkaConsumer<byte[], byte[]> all = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", bootstrap,
               "isolation.level", "read_committed"), new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
        List<TopicPartition> both = List.of(new TopicPartition(responsesTopic, 0), new TopicPartition(responsesTopic, 1));
        all.assign(both);
        all.seekToEnd(both);
        both.forEach(all::position);
        Map<String, Integer> asked = new java.util.HashMap<>();
        List<CompletableFuture<RetrievalResponse>> answers = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
          NannClient c = i % 2 == 0 ? zero : one;
          var r = NannClient.request(i % 20, 20);
          asked.put(r.getRequestId(), i % 2);
          answers.add(c.retrieve(r, Duration.ofSeconds(30)));
        }
        for (CompletableFuture<RetrievalResponse> f : answers) {
          assertEquals(ResponseStatus.OK, f.get().getStatus(), "each client gets its answers on its own partition");
        }
        Map<String, Integer> landed = new java.util.HashMap<>();
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (landed.size() < asked.size() && System.nanoTime() < until) {
          for (ConsumerRecord<byte[], byte[]> rec : all.poll(Duration.ofMillis(200))) {
            String id = new String(rec.key(), StandardCharsets.UTF_8);
            if (asked.containsKey(id)) {
              landed.put(id, rec.partition());
            }
          }
        }
        assertEquals(asked, landed, "every answer on the partition its request named");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
            () -> new NannClient(bootstrap, stack.config.get(ServingOptions.TOPIC_REQUESTS), responsesTopic, 2, Map.of()));
        assertEquals("the responses topic '" + responsesTopic + "' has partitions 0 to 1, not 2", none.getMessage());
      }
      // a request nobody answers (no job reads its topic): the future fails with a timeout. Not a short
      // wait on the served topic: on a fast machine the answer can beat the timer's wake-up there.
      stack.kafka.createTopics(List.of("nann-test-unserved-requests"), 1, Set.of());
      try (NannClient unserved = new NannClient(bootstrap, "nann-test-unserved-requests", responsesTopic, Map.of())) {
        long before = System.currentTimeMillis();
        var unanswered = NannClient.request(1, 20);
        CompletableFuture<RetrievalResponse> lost = unserved.retrieve(unanswered, Duration.ofMillis(1));
        long after = System.currentTimeMillis();
        ExecutionException e = assertThrows(ExecutionException.class, lost::get);
        assertTrue(e.getCause() instanceof TimeoutException, e.toString());
        // ids the job would dead-letter without an answer are refused here, at once
        for (String badId : List.of("   ", "x".repeat(1025))) {
          var bad = NannClient.request(1, 20);
          bad.setRequestId(badId);
          IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> unserved.retrieve(bad));
          assertTrue(refused.getMessage().startsWith("request "), refused.getMessage());
        }
        // the wait went out with the request as its deadline, so a job would not walk for it after that;
        // a deadline the caller set stays as it is
        var ownDeadline = NannClient.request(1, 20);
        ownDeadline.setDeadlineMillis(before + 60_000);
        unserved.retrieve(ownDeadline, Duration.ofMillis(1));
        Map<String, Long> deadlines = new java.util.HashMap<>();
        for (ConsumerRecord<byte[], byte[]> rec : sent(bootstrap, "nann-test-unserved-requests", 2, r -> true)) {
          RetrievalRequest r = AvroCodec.of(RetrievalRequest.class).decode(rec.value());
          deadlines.put(r.getRequestId(), r.getDeadlineMillis());
        }
        assertEquals(2, deadlines.size(), "both requests read back");
        long deadline = deadlines.get(unanswered.getRequestId());
        assertTrue(deadline >= before + 1 && deadline <= after + 1, before + " <= " + deadline + " <= " + after);
        assertEquals(before + 60_000, deadlines.get(ownDeadline.getRequestId()));

        // a retry under the same id after a timeout: the first attempt's late answer does not answer it
        var retried = NannClient.request(4, 20);
        assertThrows(ExecutionException.class, () -> unserved.retrieve(retried, Duration.ofMillis(1)).get());
        CompletableFuture<RetrievalResponse> retry = unserved.retrieve(retried);
        List<byte[]> tags = new ArrayList<>();
        for (ConsumerRecord<byte[], byte[]> rec : sent(bootstrap, "nann-test-unserved-requests", 2,
            r -> r.getRequestId().equals(retried.getRequestId()))) {
          tags.add(rec.headers().lastHeader(dev.nann.schemas.codec.AttemptHeader.NAME).value());
        }
        assertEquals(2, tags.size(), "both attempts read back");
        RetrievalResponse late = RetrievalResponse.newBuilder().setRequestId(retried.getRequestId()).setUserId(4)
            .setStatus(ResponseStatus.TIMEOUT).build();
        RetrievalResponse own = RetrievalResponse.newBuilder(late).setStatus(ResponseStatus.OK).build();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
          ProducerRecord<byte[], byte[]> first = new ProducerRecord<>(responsesTopic, key(late), codec(late));
          first.headers().add(dev.nann.schemas.codec.AttemptHeader.NAME, tags.get(0));
          p.send(first);
          p.flush();
          assertThrows(TimeoutException.class, () -> retry.get(2, TimeUnit.SECONDS), "the first attempt's answer");
          ProducerRecord<byte[], byte[]> second = new ProducerRecord<>(responsesTopic, key(own), codec(own));
          second.headers().add(dev.nann.schemas.codec.AttemptHeader.NAME, tags.get(1));
          p.send(second);
          p.flush();
        }
        assertEquals(ResponseStatus.OK, retry.get(30, TimeUnit.SECONDS).getStatus(), "the retry's own answer");

        // an answer it cannot read (here: of a schema it does not know) fails its request at once, with the reason
        var request = NannClient.request(2, 20);
        String id = request.getRequestId();
        CompletableFuture<RetrievalResponse> unreadable = unserved.retrieve(request);
        byte[] bytes = AvroCodec.of(RetrievalResponse.class).encode(RetrievalResponse.newBuilder()
            .setRequestId(id).setUserId(2).setStatus(ResponseStatus.OK).build());
        bytes[5] ^= 0x10;   // another schema's fingerprint
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
          p.send(new ProducerRecord<>(responsesTopic, id.getBytes(StandardCharsets.UTF_8), bytes));
          p.flush();
        }
        ExecutionException bad = assertThrows(ExecutionException.class, () -> unreadable.get(30, TimeUnit.SECONDS));
        assertTrue(bad.getCause().getMessage().startsWith("the answer to request " + id + " could not be read: written "
            + "with an unknown schema"), bad.getCause().getMessage());
        assertTrue(unserved.undecodable() >= 1);

        // an answer whose status is a well-formed varint too long for an Avro int (which Avro's own
        // reader fails on with an unchecked error) fails its request the same way, and the client
        // goes on reading: the next answer still completes its request
        var padded = NannClient.request(2, 20);
        var next = NannClient.request(2, 20);
        CompletableFuture<RetrievalResponse> paddedAnswer = unserved.retrieve(padded);
        CompletableFuture<RetrievalResponse> nextAnswer = unserved.retrieve(next);
        byte[] ok = AvroCodec.of(RetrievalResponse.class).encode(RetrievalResponse.newBuilder()
            .setRequestId(padded.getRequestId()).setUserId(2).setStatus(ResponseStatus.OK).build());
        int status = 10 + 1 + padded.getRequestId().length() + 1;   // after the id (length + bytes) and userId 2
        assertEquals(0, ok[status]);
        byte[] sixBytes = new byte[ok.length + 5];
        System.arraycopy(ok, 0, sixBytes, 0, status);
        System.arraycopy(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, 0}, 0, sixBytes, status, 6);
        System.arraycopy(ok, status + 1, sixBytes, status + 6, ok.length - status - 1);
        RetrievalResponse nextOk = RetrievalResponse.newBuilder().setRequestId(next.getRequestId()).setUserId(2)
            .setStatus(ResponseStatus.OK).build();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
          p.send(new ProducerRecord<>(responsesTopic, padded.getRequestId().getBytes(StandardCharsets.UTF_8), sixBytes));
          p.send(new ProducerRecord<>(responsesTopic, key(nextOk), AvroCodec.of(RetrievalResponse.class).encode(nextOk)));
          p.flush();
        }
        ExecutionException malformed = assertThrows(ExecutionException.class, () -> paddedAnswer.get(30, TimeUnit.SECONDS));
        assertTrue(malformed.getCause().getMessage().contains("field 'status' holds a malformed number"),
            malformed.getCause().getMessage());
        assertEquals(ResponseStatus.OK, nextAnswer.get(30, TimeUnit.SECONDS).getStatus(), "the client reads on");
      }
      // partitions added to the responses topic after the client started are read too
      stack.kafka.createTopics(List.of("nann-test-grown-responses"), 1, Set.of());
      try (NannClient grown = new NannClient(bootstrap, "nann-test-unserved-requests", "nann-test-grown-responses",
          Map.of("metadata.max.age.ms", "200"))) {
        grown.checkPartitionsEvery(Duration.ofMillis(200));
        try (org.apache.kafka.clients.admin.Admin admin = org.apache.kafka.clients.admin.Admin.create(
            Map.<String, Object>of("bootstrap.servers", bootstrap))) {
          admin.createPartitions(Map.of("nann-test-grown-responses",
              org.apache.kafka.clients.admin.NewPartitions.increaseTo(2))).all().get(30, TimeUnit.SECONDS);
        }
        var request = NannClient.request(4, 20);
        CompletableFuture<RetrievalResponse> onNew = grown.retrieve(request);
        Thread.sleep(1000);   // past a look at the topic's partitions
        RetrievalResponse answer = RetrievalResponse.newBuilder().setRequestId(request.getRequestId()).setUserId(4)
            .setStatus(ResponseStatus.OK).build();
        try (KafkaProducer<byte[], byte[]> p = producer(bootstrap)) {
          p.send(new ProducerRecord<>("nann-test-grown-responses", 1, key(answer),
              AvroCodec.of(RetrievalResponse.class).encode(answer)));
          p.flush();
        }
        assertEquals(ResponseStatus.OK, onNew.get(30, TimeUnit.SECONDS).getStatus(), "the answer on the new partition");
      }
      // a responses topic that does not exist is said at once, not found out request by request
      IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
          () -> new NannClient(bootstrap, "nann-test-unserved-requests", "nann-test-no-such-topic", Map.of()));
      assertTrue(missing.getMessage().startsWith("the responses topic 'nann-test-no-such-topic' does not exist"),
          missing.getMessage());
      // and so is a requests topic that does not exist (the first request would block its caller on the
      // producer's metadata lookup for a minute, then fail)
      IllegalArgumentException noRequests = assertThrows(IllegalArgumentException.class,
          () -> new NannClient(bootstrap, "nann-test-no-such-requests", responsesTopic, Map.of()));
      assertTrue(noRequests.getMessage().startsWith("the requests topic 'nann-test-no-such-requests' does not exist"),
          noRequests.getMessage());
      NannClient closed = new NannClient(bootstrap, "nann-test-unserved-requests", responsesTopic, Map.of());
      closed.close();
      IllegalStateException afterClose = assertThrows(IllegalStateException.class,
          () -> closed.retrieve(NannClient.request(1, 20)));
      assertEquals("this client is closed", afterClose.getMessage());
    }
  }

  /** The first {@code want} requests on {@code topic}'s partition 0 that {@code which} takes, read from its start (30 s at most). */
  private static List<ConsumerRecord<byte[], byte[]>> sent(String bootstrap, String topic, int want,
                                                           java.util.function.Predicate<RetrievalRequest> which)
      throws java.io.IOException {
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> sent = new KafkaConsumer<>(Map.<String, Object>of("bootstrap.servers", bootstrap),
        new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition p0 = new TopicPartition(topic, 0);
      sent.assign(List.of(p0));
      sent.seekToBeginning(List.of(p0));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (out.size() < want && System.nanoTime() < until) {
        for (ConsumerRecord<byte[], byte[]> rec : sent.poll(Duration.ofMillis(200))) {
          if (out.size() < want && which.test(AvroCodec.of(RetrievalRequest.class).decode(rec.value()))) {
            out.add(rec);
          }
        }
      }
    }
    return out;
  }

  private static byte[] codec(RetrievalResponse r) {
    return AvroCodec.of(RetrievalResponse.class).encode(r);
  }

  private static byte[] key(RetrievalResponse r) {
    return r.getRequestId().getBytes(StandardCharsets.UTF_8);
  }

  private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("max.in.flight.requests.per.connection", "1");
    return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
  }
}
