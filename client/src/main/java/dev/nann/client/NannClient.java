package dev.nann.client;

import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.codec.AttemptHeader;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.codec.ReplyPartitionHeader;
import dev.nann.schemas.codec.RequestIds;
import dev.nann.schemas.codec.SentAtHeader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Asks nann for candidates from an application: {@link #retrieve} sends a request to the requests
 * topic and returns a future completed by its answer on the responses topic. One thread reads the
 * answers for every request of this client and completes each future once: the serving job answers
 * at-least-once by default (an answer is visible as soon as it is written, not when the next
 * checkpoint commits it), so after a job restart an answer can arrive twice, and the repeat is
 * dropped here (counted by {@link #repeatsDropped}). Answers to other clients' requests on a shared
 * responses topic are skipped without being decoded; partitions added to the topic are read within
 * 30 s (reading all partitions). A fleet of clients can each read one partition of the topic instead
 * of all of it (the constructor with a reply partition). Thread-safe; one per application is enough.
 *
 * <p>Futures complete on the client's own answer-reading thread (or on the Kafka producer's thread
 * when a request cannot be sent): stages chained with {@code thenApply}, {@code thenAccept} and the
 * like run there, so one that blocks (a {@code join()} on another request, a slow call) holds back
 * every answer of this client until it returns. Chain such work with the {@code ...Async}
 * variants.
 *
 * <pre>{@code
 * try (NannClient nann = new NannClient("broker:9092", "requests", "responses", Map.of())) {
 *   RetrievalResponse r = nann.retrieve(NannClient.request(42L, 200), Duration.ofMillis(100)).join();
 * }
 * }</pre>
 */
public final class NannClient implements AutoCloseable {
  /** Reads answers on every partition of the responses topic (requests name no reply partition). */
  public static final int ALL_PARTITIONS = -1;

  /** Longest any request's future waits for its answer before it fails with a TimeoutException. */
  public static final Duration LONGEST_WAIT = Duration.ofMinutes(10);

  private final String requestsTopic;
  private final String responsesTopic;
  private final int replyPartition;
  private final KafkaProducer<byte[], byte[]> producer;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final AvroCodec<RetrievalRequest> requests = AvroCodec.of(RetrievalRequest.class);
  private final AvroCodec<RetrievalResponse> responses = AvroCodec.of(RetrievalResponse.class);
  private final Map<String, Attempt> pending = new ConcurrentHashMap<>();
  private final AtomicLong repeats = new AtomicLong();
  /** Ids answered lately, to tell a repeat from another client's answer; the reader thread's alone. */
  private final Map<String, Boolean> answered = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
      return size() > 100_000;
    }
  };
  private final AtomicLong undecodable = new AtomicLong();
  private final Thread reader;
  private volatile boolean closed;
  private volatile Throwable readerFailure;   // why the reader thread stopped, if not closed

  /**
   * Connects and starts reading answers from now on.
   *
   * @param kafkaProperties extra Kafka client properties (TLS, SASL: the serving job's
   *     {@code kafka.properties.*} without the prefix)
   */
  public NannClient(String bootstrap, String requestsTopic, String responsesTopic, Map<String, String> kafkaProperties) {
    this(bootstrap, requestsTopic, responsesTopic, ALL_PARTITIONS, kafkaProperties);
  }

  /**
   * Connects and starts reading answers from now on, from partition {@code replyPartition} of the
   * responses topic only: every request carries a {@link ReplyPartitionHeader} naming it, and the
   * serving job writes its answer there. Clients spread over the topic's partitions (one each, or
   * several sharing one) then read only their share of the answers instead of every client reading
   * all of them. A job started before the partition was added to the topic writes to it only after
   * a restart (until then such answers take their key's partition, and time out here).
   *
   * @param replyPartition a partition of the responses topic, or {@link #ALL_PARTITIONS}
   * @param kafkaProperties extra Kafka client properties (TLS, SASL: the serving job's
   *     {@code kafka.properties.*} without the prefix)
   * @throws IllegalArgumentException when the topic does not exist or lacks that partition
   */
  public NannClient(String bootstrap, String requestsTopic, String responsesTopic, int replyPartition,
                    Map<String, String> kafkaProperties) {
    this.requestsTopic = requestsTopic;
    this.responsesTopic = responsesTopic;
    this.replyPartition = replyPartition;
    Properties common = new Properties();
    common.putAll(kafkaProperties);
    common.put("bootstrap.servers", bootstrap);
    Properties p = new Properties();
    p.putAll(common);
    p.put("linger.ms", "0");
    // one request in flight per connection: with Kafka 4.2 a retried first batch to a new partition
    // can otherwise be overtaken and then rejected forever (KAFKA-15591)
    p.put("max.in.flight.requests.per.connection", "1");
    this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    Properties c = new Properties();
    c.putAll(common);
    c.put("enable.auto.commit", "false");
    // partitions added to the responses topic show in the consumer's metadata when it is refreshed
    // (Kafka's default: every 5 minutes); the reader looks for them as often (readNewPartitions)
    c.putIfAbsent("metadata.max.age.ms", Long.toString(PARTITION_CHECK_NANOS / 1_000_000));
    // at-least-once answers are visible at once; exactly-once ones when their transaction commits
    c.put("isolation.level", "read_committed");
    // no fetch.max.wait.ms of our own: the broker holds each fetch until an answer arrives (Kafka's
    // 500 ms default), as fast as polling every few ms (measured side by side on the demo) without
    // an empty fetch every few ms from every idle client
    KafkaConsumer<byte[], byte[]> answers = null;
    try {
      answers = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      List<TopicPartition> parts = new ArrayList<>();
      List<PartitionInfo> found = answers.partitionsFor(responsesTopic);
      if (found == null || found.isEmpty()) {
        throw new IllegalArgumentException("the responses topic '" + responsesTopic + "' does not exist on " + bootstrap
            + " (the serving job creates it in local runs; create it, or name the job's topics.responses)");
      }
      found.forEach(pi -> parts.add(new TopicPartition(pi.topic(), pi.partition())));
      if (replyPartition != ALL_PARTITIONS) {
        if (replyPartition < 0 || replyPartition >= found.size()) {
          throw new IllegalArgumentException("the responses topic '" + responsesTopic + "' has partitions 0 to "
              + (found.size() - 1) + ", not " + replyPartition);
        }
        parts.removeIf(tp -> tp.partition() != replyPartition);
      }
      List<PartitionInfo> requestPartitions = answers.partitionsFor(requestsTopic);
      if (requestPartitions == null || requestPartitions.isEmpty()) {
        throw new IllegalArgumentException("the requests topic '" + requestsTopic + "' does not exist on " + bootstrap
            + " (the serving job creates it in local runs; create it, or name the job's topics.requests)");
      }
      // the producer learns the topic's partitions now: the first retrieve would otherwise block its
      // caller on that lookup (up to max.block.ms), past any timeout it asked for
      producer.partitionsFor(requestsTopic);
      answers.assign(parts);
      answers.seekToEnd(parts);
      parts.forEach(answers::position);   // fix the start now, before any request is sent
    } catch (RuntimeException e) {
      if (answers != null) {
        answers.close(Duration.ZERO);
      }
      producer.close(Duration.ZERO);
      throw e;
    }
    this.consumer = answers;
    this.reader = new Thread(this::readAnswers, "nann-client-answers");
    reader.setDaemon(true);
    reader.start();
  }

  /** A request for {@code k} items for {@code userId} with a fresh id, in the default mode. */
  public static RetrievalRequest request(long userId, int k) {
    return RetrievalRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setUserId(userId).setK(k)
        .setMode("nann").setCreatedAtMillis(System.currentTimeMillis()).build();
  }

  /**
   * Sends {@code request} (keyed by user, as the serving job expects) and returns its answer's
   * future. Prefer {@link #retrieve(RetrievalRequest, Duration)}, or bound the wait with {@code
   * orTimeout}: a future that fails that way is forgotten, and a late answer for it dropped (also
   * when the request is sent again under its id: each attempt carries a tag of its own, which the
   * job copies to its answer, so a retry is answered by its own answer only). A
   * {@code get(timeout)} that gives up leaves the future waiting; every future unanswered after
   * {@link #LONGEST_WAIT} fails with a TimeoutException, so requests nobody answers (the job
   * dead-letters one larger than its {@code serving.max-record-bytes}) are not held for ever. An
   * answer this client cannot read (one written in a newer schema than it knows) fails the future
   * at once with the reason.
   *
   * @throws IllegalArgumentException for a request whose id the job would refuse (blank, longer than
   *     {@link RequestIds#MAX_BYTES} bytes, or holding a lone surrogate), or one whose id is still pending
   * @throws IllegalStateException when this client is closed, or its answer reader has stopped on a
   *     Kafka error (the reason is the cause): make a new client
   */
  public CompletableFuture<RetrievalResponse> retrieve(RetrievalRequest request) {
    if (closed) {
      throw new IllegalStateException("this client is closed");
    }
    String id = request.getRequestId();
    String badId = RequestIds.problem(id);
    if (badId != null) {
      throw new IllegalArgumentException(badId + " (request(...) makes one)");
    }
    Throwable stopped = readerFailure;
    if (stopped != null) {
      throw new IllegalStateException("this client stopped reading answers: " + stopped, stopped);
    }
    byte[] value = requests.encode(request);   // a request that cannot be encoded fails here, registering nothing
    CompletableFuture<RetrievalResponse> f = new CompletableFuture<>();
    Attempt attempt = new Attempt(f, AttemptHeader.next());
    // an earlier attempt whose future is done (a caller woken by its timeout may retry before the
    // entry's own removal has run) gives way to this one
    if (pending.compute(id, (k, old) -> old == null || old.future().isDone() ? attempt : old) != attempt) {
      throw new IllegalArgumentException("request " + id + " is already waiting for its answer");
    }
    f.whenComplete((r, e) -> pending.remove(id, attempt));
    f.orTimeout(LONGEST_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    Throwable stoppedMeanwhile = readerFailure;   // set before the reader fails what is pending: one of us sees the other
    if (stoppedMeanwhile != null) {
      f.completeExceptionally(new IllegalStateException("this client stopped reading answers: " + stoppedMeanwhile,
          stoppedMeanwhile));
      return f;
    }
    ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(requestsTopic,
        Long.toString(request.getUserId()).getBytes(StandardCharsets.UTF_8), value);
    rec.headers().add(SentAtHeader.NAME, SentAtHeader.now());   // the job times its latency from here, to the us
    rec.headers().add(AttemptHeader.NAME, attempt.tag());   // a retry under the same id is not answered by this one
    if (replyPartition != ALL_PARTITIONS) {
      rec.headers().add(ReplyPartitionHeader.NAME, ReplyPartitionHeader.encode(replyPartition));
    }
    try {
      producer.send(rec, (meta, e) -> {
        if (e != null) {
          f.completeExceptionally(e);
        }
      });
    } catch (RuntimeException e) {   // a closed producer, a record too large: the request was not sent
      f.completeExceptionally(e);
      throw e;
    }
    return f;
  }

  /**
   * {@link #retrieve} with the wait bounded: the future fails with a TimeoutException after {@code
   * timeout}. A request without a deadline of its own is sent with {@code deadlineMillis} at the same
   * moment (this host's clock), so the job does not walk for an answer nobody waits for any more: it
   * answers TIMEOUT at once instead (when it falls behind, or after a restart, such requests would
   * otherwise take the walkers from those still waiting). The TaskManagers compare it with their own
   * clocks: one ahead of this host's by about {@code timeout} answers every such request TIMEOUT.
   * To send no deadline, bound {@link #retrieve(RetrievalRequest)}'s future yourself. A timeout
   * longer than {@link #LONGEST_WAIT} is that long (deadline and wait alike).
   */
  public CompletableFuture<RetrievalResponse> retrieve(RetrievalRequest request, Duration timeout) {
    long millis = Math.max(1, Math.min(timeout.toMillis(), LONGEST_WAIT.toMillis()));
    RetrievalRequest sent = request;
    if (request.getDeadlineMillis() == 0) {
      long now = System.currentTimeMillis();
      sent = RetrievalRequest.newBuilder(request).setDeadlineMillis(now + Math.min(millis, Long.MAX_VALUE - now)).build();
    }
    return retrieve(sent).orTimeout(millis, TimeUnit.MILLISECONDS);
  }

  /** Answers received for a request already answered (repeats after a job restart), dropped. */
  public long repeatsDropped() {
    return repeats.get();
  }

  /** Answers to this client's requests (or records without a key) it could not decode, skipped. */
  public long undecodable() {
    return undecodable.get();
  }

  /** A request waiting for its answer, and the tag its attempt was sent with ({@link AttemptHeader}). */
  private record Attempt(CompletableFuture<RetrievalResponse> future, byte[] tag) {
  }

  /** Whether answer record {@code rec} may answer {@code waiting}: it carries no attempt tag, or that attempt's. */
  private static boolean answers(ConsumerRecord<byte[], byte[]> rec, Attempt waiting) {
    org.apache.kafka.common.header.Header tag = rec.headers().lastHeader(AttemptHeader.NAME);
    return AttemptHeader.answers(tag == null ? null : tag.value(), waiting.tag());
  }

  private void readAnswers() {
    try {
      long lookAgain = System.nanoTime() + partitionCheckNanos;
      while (!closed) {
        if (replyPartition == ALL_PARTITIONS && System.nanoTime() - lookAgain > 0) {
          readNewPartitions();
          lookAgain = System.nanoTime() + partitionCheckNanos;
        }
        for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(100))) {
          if (rec.key() != null && isOthers(new String(rec.key(), StandardCharsets.UTF_8))) {
            continue;   // keyed by request id: another client's answer, or one given up on, is not decoded
          }
          RetrievalResponse r;
          try {
            r = responses.decode(rec.value());
          } catch (IOException e) {   // one record this client cannot read: the others go on
            undecodable.incrementAndGet();
            failPending(rec, e);
            continue;
          }
          Attempt waiting = pending.get(r.getRequestId());
          if (waiting != null && !answers(rec, waiting)) {
            continue;   // the late answer to an earlier attempt under this id: the one waiting is a retry
          }
          CompletableFuture<RetrievalResponse> f = waiting != null && pending.remove(r.getRequestId(), waiting)
              ? waiting.future() : null;
          if (f != null && f.complete(r)) {
            answered.put(r.getRequestId(), Boolean.TRUE);
          } else if (answered.containsKey(r.getRequestId())) {
            repeats.incrementAndGet();   // answered before: a repeat after a job restart
          }   // else another client's request, or one given up on
        }
      }
    } catch (WakeupException e) {
      // closing
    } catch (RuntimeException | Error e) {
      // the consumer failed (authorisation revoked, the topic deleted): no answer can arrive any more,
      // so every waiting request fails now and later ones at once, instead of each timing out unexplained
      readerFailure = e;
      IllegalStateException stop = new IllegalStateException("this client stopped reading answers: " + e, e);
      pending.values().forEach(a -> a.future().completeExceptionally(stop));
    } finally {
      consumer.close();
    }
  }

  /** Whether an answer's request id is neither waiting here nor answered lately (a repeat is counted). */
  private boolean isOthers(String requestId) {
    return !pending.containsKey(requestId) && !answered.containsKey(requestId);
  }

  /** How often the reader looks for partitions added to the responses topic, by default. */
  private static final long PARTITION_CHECK_NANOS = 30_000_000_000L;
  private volatile long partitionCheckNanos = PARTITION_CHECK_NANOS;

  /** Looks for added partitions this often instead of every 30 s (tests). */
  void checkPartitionsEvery(Duration every) {
    partitionCheckNanos = every.toNanos();
  }

  /**
   * Reads partitions added to the responses topic since the client started (the serving job answers
   * on a partition of the request's key, and a topic grown for more parallelism has new ones), from
   * their beginning: every record on them is newer than this client.
   */
  private void readNewPartitions() {
    List<PartitionInfo> now = consumer.partitionsFor(responsesTopic);
    if (now == null || now.size() <= consumer.assignment().size()) {
      return;
    }
    List<TopicPartition> all = new ArrayList<>(consumer.assignment());
    List<TopicPartition> added = new ArrayList<>();
    for (PartitionInfo pi : now) {
      TopicPartition tp = new TopicPartition(pi.topic(), pi.partition());
      if (!all.contains(tp)) {
        all.add(tp);
        added.add(tp);
      }
    }
    consumer.assign(all);
    consumer.seekToBeginning(added);
  }

  /**
   * An answer this client cannot read fails its request's future at once (the record's key is the
   * request id) with the reason, rather than leaving it to time out.
   */
  private void failPending(ConsumerRecord<byte[], byte[]> rec, IOException cause) {
    if (rec.key() == null) {
      return;
    }
    String id = new String(rec.key(), StandardCharsets.UTF_8);
    Attempt waiting = pending.get(id);
    if (waiting != null && answers(rec, waiting) && pending.remove(id, waiting)) {
      waiting.future().completeExceptionally(new IOException("the answer to request " + id + " could not be read: " + cause.getMessage()
          + " (a job writing a newer RetrievalResponse than this client knows: upgrade nann-client, or set the job's "
          + "kafka.response-schema-version to a version this client reads)", cause));
    }
  }

  @Override
  public void close() {
    closed = true;
    consumer.wakeup();
    try {
      reader.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    producer.close(Duration.ofSeconds(5));
    pending.values().forEach(a -> a.future().completeExceptionally(new IllegalStateException("the client was closed")));
  }
}
