package dev.nann.local;

import dev.nann.jobs.KafkaClientProperties;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * A Kafka client of the serving job, for the demo, {@code ./nann request} and the benchmark:
 * sends requests, user events and index descriptors (single-object Avro), and reads responses
 * with {@code read_committed} (only answers of committed transactions). Every Kafka client it makes
 * gets the Kafka client properties given (security: the serving job's {@code kafka.properties.*}).
 */
public final class ServingClient implements AutoCloseable {
  private final String bootstrap;
  private final Map<String, String> clientProperties;
  private final String requestsTopic;
  private final String responsesTopic;
  private final String eventsTopic;
  private final KafkaProducer<byte[], byte[]> producer;
  private final java.util.concurrent.atomic.AtomicReference<Exception> sendFailure =
      new java.util.concurrent.atomic.AtomicReference<>();
  private final AvroCodec<RetrievalRequest> requests = AvroCodec.of(RetrievalRequest.class);
  private final AvroCodec<RetrievalResponse> responses = AvroCodec.of(RetrievalResponse.class);
  private final AvroCodec<UserEvent> events = AvroCodec.of(UserEvent.class);
  private final AvroCodec<IndexDescriptor> descriptors = AvroCodec.of(IndexDescriptor.class);
  private final AvroCodec<dev.nann.schemas.ItemEmbedding> items = AvroCodec.of(dev.nann.schemas.ItemEmbedding.class);

  public ServingClient(String bootstrap, String requestsTopic, String responsesTopic, String eventsTopic) {
    this(bootstrap, Map.of(), requestsTopic, responsesTopic, eventsTopic);
  }

  /**
   * @param clientProperties Kafka client properties for every client (TLS, SASL; no prefix); the
   *     ones nann controls are refused
   */
  public ServingClient(String bootstrap, Map<String, String> clientProperties, String requestsTopic,
                       String responsesTopic, String eventsTopic) {
    this.bootstrap = bootstrap;
    this.clientProperties = KafkaClientProperties.checked(clientProperties, "");
    this.requestsTopic = requestsTopic;
    this.responsesTopic = responsesTopic;
    this.eventsTopic = eventsTopic;
    Properties p = properties();
    p.put("linger.ms", "0");   // as NannClient: a request leaves at once
    // one request in flight per connection: with Kafka 4.2 a retried first batch to a new partition
    // can otherwise be overtaken and then rejected forever (KAFKA-15591)
    p.put("max.in.flight.requests.per.connection", "1");
    p.put("max.block.ms", "10000");
    this.producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
  }

  /** A request with a fresh id. */
  public static RetrievalRequest request(long user, int k, String mode) {
    return RetrievalRequest.newBuilder().setRequestId(UUID.randomUUID().toString()).setUserId(user).setK(k)
        .setMode(mode).setCreatedAtMillis(System.currentTimeMillis()).build();
  }

  /** Sends a request keyed by user, with a correlation header. */
  public void send(RetrievalRequest r) {
    ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(requestsTopic, key(r.getUserId()), requests.encode(r));
    rec.headers().add("correlation-id", r.getRequestId().getBytes(StandardCharsets.UTF_8));
    rec.headers().add(SentAtHeader.NAME, SentAtHeader.now());
    producer.send(rec, this::onSent);
  }

  public void send(UserEvent e) {
    producer.send(new ProducerRecord<>(eventsTopic, key(e.getUserId()), events.encode(e)), this::onSent);
  }

  /** Sends an item upsert or delete to the item-embeddings topic (key: item id). */
  public void send(String itemTopic, dev.nann.schemas.ItemEmbedding item) {
    producer.send(new ProducerRecord<>(itemTopic, key(item.getItemId()), items.encode(item)), this::onSent);
  }

  /** Sends a catalog as item upserts to {@code itemTopic} and flushes. */
  public void sendCatalog(String itemTopic, long[] ids, float[] embeddings, int dim) {
    for (int i = 0; i < ids.length; i++) {
      List<Float> v = new ArrayList<>(dim);
      for (int j = 0; j < dim; j++) {
        v.add(embeddings[i * dim + j]);
      }
      send(itemTopic, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(ids[i]).setEmbedding(v).build());
    }
    flush();
  }

  /**
   * Waits for an index descriptor of at least {@code items} items on {@code indexTopic} (read
   * from the beginning; records that are not descriptors are passed over).
   *
   * @throws IllegalStateException if none arrives within {@code timeout}
   */
  public IndexDescriptor awaitIndex(String indexTopic, int items, Duration timeout) throws IOException {
    Properties p = properties();
    p.put("enable.auto.commit", "false");
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> parts = new ArrayList<>();
      c.partitionsFor(indexTopic).forEach(pi -> parts.add(new TopicPartition(pi.topic(), pi.partition())));
      c.assign(parts);
      c.seekToBeginning(parts);
      long end = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < end) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          IndexDescriptor d;
          try {
            d = descriptors.decode(r.value());
          } catch (IOException | RuntimeException notADescriptor) {   // anyone can write to the topic
            continue;
          }
          if (d.getItems() >= items) {
            return d;
          }
        }
      }
    }
    throw new IllegalStateException("no index descriptor on " + indexTopic + " within " + timeout.toSeconds() + " s");
  }

  /** Publishes an index descriptor (compacted topic, key "index"). */
  public void publish(String indexTopic, IndexDescriptor d) {
    producer.send(new ProducerRecord<>(indexTopic, "index".getBytes(StandardCharsets.UTF_8), descriptors.encode(d)),
        this::onSent);
    flush();
  }

  /**
   * Waits until everything sent is acknowledged.
   *
   * @throws IllegalStateException if Kafka refused a record since the last flush (e.g. a failed
   *     login), with Kafka's exception as the cause
   */
  public void flush() {
    producer.flush();
    Exception e = sendFailure.getAndSet(null);
    if (e != null) {
      throw new IllegalStateException("Kafka at " + bootstrap + " refused a record: " + e, e);
    }
  }

  /** A read_committed consumer of the responses topic, positioned at its end (only new answers). */
  public KafkaConsumer<byte[], byte[]> responsesFromNow() {
    return fromNow(responsesTopic);
  }

  /** A read_committed consumer of {@code topic}, positioned at its end (only records written from now on). */
  public KafkaConsumer<byte[], byte[]> fromNow(String topic) {
    return consumer(topic, true);
  }

  /** A read_committed consumer of {@code topic} from its first record. */
  public KafkaConsumer<byte[], byte[]> fromStart(String topic) {
    return consumer(topic, false);
  }

  private KafkaConsumer<byte[], byte[]> consumer(String topic, boolean atEnd) {
    Properties p = properties();
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    List<TopicPartition> parts = new ArrayList<>();
    c.partitionsFor(topic).forEach(pi -> parts.add(new TopicPartition(pi.topic(), pi.partition())));
    c.assign(parts);
    if (atEnd) {
      c.seekToEnd(parts);
    } else {
      c.seekToBeginning(parts);
    }
    parts.forEach(c::position);   // resolve the offsets now, before anything is sent
    return c;
  }

  /**
   * Sends every user's behaviour in {@code corpus} as user events (user id = its index in the
   * corpus, timestamps increasing) and flushes; returns how many were sent.
   */
  public int replayBehaviour(dev.nann.corpus.Corpus corpus) {
    long t = 1;
    int sent = 0;
    for (int u = 0; u < corpus.users().size(); u++) {
      for (int row : corpus.users().get(u).behavior()) {
        send(UserEvent.newBuilder().setUserId(u).setItemId(corpus.itemIds()[row]).setTimestampMillis(t++).build());
        sent++;
      }
    }
    flush();
    return sent;
  }

  /** Decodes a response record. */
  public RetrievalResponse decode(ConsumerRecord<byte[], byte[]> r) throws IOException {
    return responses.decode(r.value());
  }

  /**
   * Sends probe requests for {@code user} until one is answered from an index, so callers know the
   * job has its index descriptor in broadcast state.
   *
   * @throws IllegalStateException if no answer from an index arrives within {@code timeout}
   */
  public void awaitServing(KafkaConsumer<byte[], byte[]> responses, long user, Duration timeout) throws IOException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      send(request(user, 10, "nann"));
      flush();
      for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(1000))) {
        ResponseStatus s = decode(r).getStatus();
        if (s == ResponseStatus.OK || s == ResponseStatus.COLD_START) {
          return;
        }
      }
    }
    throw new IllegalStateException("the serving job did not answer from an index within " + timeout.toSeconds() + " s");
  }

  private void onSent(org.apache.kafka.clients.producer.RecordMetadata m, Exception e) {
    if (e != null) {
      sendFailure.compareAndSet(null, e);
    }
  }

  /** The user's client properties, then the broker address (a client's own settings are put after). */
  private Properties properties() {
    Properties p = KafkaClientProperties.toProperties(clientProperties);
    p.put("bootstrap.servers", bootstrap);
    return p;
  }

  private static byte[] key(long user) {
    return Long.toString(user).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(5));
  }
}
