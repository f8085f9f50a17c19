package dev.nann.local;

import dev.nann.jobs.ServingConfig;
import dev.nann.jobs.ServingOptions;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends hostile records ({@link RecordFuzzer}) of every kind to every input topic of a running local
 * stack, with good requests interleaved, and accounts for each: a hostile request must be
 * dead-lettered or answered (exactly one of the two), every other hostile record dead-lettered or
 * used, every good request answered, and the job still running.
 */
public final class FuzzRun {
  /** What happened to the records of one topic and kind. */
  public record Row(RecordFuzzer.Input input, RecordFuzzer.Kind kind, int sent, int deadLettered, int answered) {
  }

  /**
   * @param rows per input topic and kind
   * @param requestsUnaccounted hostile requests neither dead-lettered nor answered (must be 0)
   * @param goodSent good requests interleaved with the hostile ones
   * @param goodAnswered of those, answered OK or COLD_START
   * @param jobRunning the job is still running (no failure: the stack runs without restarts)
   * @param answersByStatus statuses of the answers to hostile requests
   */
  public record Result(List<Row> rows, int requestsUnaccounted, int goodSent, int goodAnswered, boolean jobRunning,
                       Map<ResponseStatus, Integer> answersByStatus) {
  }

  private FuzzRun() {}

  /**
   * @param perTopic hostile records per input topic (spread over the kinds)
   * @param goodEvery one good request after this many hostile records
   * @param users users with behaviour in the stack (good requests ask for them)
   */
  public static Result run(LocalStack stack, int perTopic, int goodEvery, int users, int dim, long seed, PrintStream log)
      throws Exception {
    ServingConfig cfg = stack.config;
    Map<RecordFuzzer.Input, String> topics = new EnumMap<>(RecordFuzzer.Input.class);
    topics.put(RecordFuzzer.Input.REQUESTS, cfg.get(ServingOptions.TOPIC_REQUESTS));
    topics.put(RecordFuzzer.Input.USER_EVENTS, cfg.get(ServingOptions.TOPIC_USER_EVENTS));
    topics.put(RecordFuzzer.Input.ITEM_EMBEDDINGS, cfg.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS));
    topics.put(RecordFuzzer.Input.INDEX_UPDATES, cfg.get(ServingOptions.TOPIC_INDEX_UPDATES));
    topics.put(RecordFuzzer.Input.MODEL_UPDATES, cfg.get(ServingOptions.TOPIC_MODEL_UPDATES));
    String bootstrap = cfg.get(ServingOptions.BOOTSTRAP_SERVERS);
    RecordFuzzer fuzzer = new RecordFuzzer(seed, dim);
    AvroCodec<RetrievalRequest> requests = AvroCodec.of(RetrievalRequest.class);
    Map<String, Integer> sent = new HashMap<>();
    Set<String> good = new HashSet<>();
    int hostileRequests = 0;
    RecordFuzzer.Kind[] kinds = RecordFuzzer.Kind.values();
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap);
         KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow();
         KafkaConsumer<byte[], byte[]> dead = stack.client.fromNow(cfg.get(ServingOptions.TOPIC_DEAD_LETTER))) {
      long t0 = System.nanoTime();
      int sinceGood = 0;
      for (int i = 0; i < perTopic; i++) {
        for (RecordFuzzer.Input input : RecordFuzzer.Input.values()) {
          RecordFuzzer.Kind kind = kinds[i % kinds.length];
          String key = input + "|" + kind + "|" + i;
          producer.send(new ProducerRecord<>(topics.get(input), key.getBytes(StandardCharsets.UTF_8),
              fuzzer.next(input, kind)));
          sent.merge(input + "|" + kind, 1, Integer::sum);
          hostileRequests += input == RecordFuzzer.Input.REQUESTS ? 1 : 0;
          if (++sinceGood >= goodEvery) {
            sinceGood = 0;
            RetrievalRequest r = ServingClient.request(good.size() % users, 20, "nann");
            r.setRequestId("good-" + good.size());
            good.add(r.getRequestId());
            producer.send(new ProducerRecord<>(topics.get(RecordFuzzer.Input.REQUESTS),
                Long.toString(r.getUserId()).getBytes(StandardCharsets.UTF_8), requests.encode(r)));
          }
        }
      }
      producer.flush();
      log.printf("[fuzz] sent %,d hostile records (%,d per topic) and %,d good requests in %.1f s%n",
          perTopic * topics.size(), perTopic, good.size(), (System.nanoTime() - t0) / 1e9);

      Map<String, Integer> deadByKey = new HashMap<>();
      Map<ResponseStatus, Integer> statuses = new EnumMap<>(ResponseStatus.class);
      AvroCodec<DeadLetter> letters = AvroCodec.of(DeadLetter.class);
      int goodAnswered = 0;
      int hostileAnswered = 0;
      int deadRequests = 0;
      long quietSince = System.nanoTime();
      long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
      while (System.nanoTime() < deadline && System.nanoTime() - quietSince < Duration.ofSeconds(15).toNanos()
          && !(goodAnswered == good.size() && deadRequests + hostileAnswered == hostileRequests
               && deadByKey.values().stream().mapToInt(Integer::intValue).sum() >= expectedMinimum(sent))) {
        boolean any = false;
        for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(100))) {
          any = true;
          RetrievalResponse resp = stack.client.decode(r);
          if (good.contains(resp.getRequestId())) {
            goodAnswered += resp.getStatus() == ResponseStatus.OK || resp.getStatus() == ResponseStatus.COLD_START ? 1 : 0;
          } else {
            hostileAnswered++;
            statuses.merge(resp.getStatus(), 1, Integer::sum);
          }
        }
        for (ConsumerRecord<byte[], byte[]> r : dead.poll(Duration.ofMillis(100))) {
          any = true;
          DeadLetter d = letters.decode(r.value());
          String key = d.getKey() == null ? "" : StandardCharsets.UTF_8.decode(d.getKey()).toString();
          String[] parts = key.split("\\|");
          if (parts.length == 3) {
            deadByKey.merge(parts[0] + "|" + parts[1], 1, Integer::sum);
            deadRequests += parts[0].equals(RecordFuzzer.Input.REQUESTS.name()) ? 1 : 0;
          }
        }
        if (any) {
          quietSince = System.nanoTime();
        }
      }
      List<Row> rows = new ArrayList<>();
      for (RecordFuzzer.Input input : RecordFuzzer.Input.values()) {
        for (RecordFuzzer.Kind kind : kinds) {
          String k = input + "|" + kind;
          rows.add(new Row(input, kind, sent.getOrDefault(k, 0), deadByKey.getOrDefault(k, 0),
              input == RecordFuzzer.Input.REQUESTS ? sent.getOrDefault(k, 0) - deadByKey.getOrDefault(k, 0) : 0));
        }
      }
      boolean running = stack.job().getJobStatus().get() == org.apache.flink.api.common.JobStatus.RUNNING;
      return new Result(rows, hostileRequests - deadRequests - hostileAnswered, good.size(), goodAnswered, running,
          statuses);
    }
  }

  /** Records that cannot be valid in any way (wrong fingerprint, truncated) must all be dead letters. */
  private static int expectedMinimum(Map<String, Integer> sent) {
    int n = 0;
    for (Map.Entry<String, Integer> e : sent.entrySet()) {
      if (e.getKey().endsWith("|" + RecordFuzzer.Kind.WRONG_FINGERPRINT)) {
        n += e.getValue();
      }
    }
    return n;
  }

  private static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("linger.ms", "5");
    p.put("max.in.flight.requests.per.connection", "1");   // see ServingClient: KAFKA-15591
    p.put("max.request.size", "4194304");
    return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
  }
}
