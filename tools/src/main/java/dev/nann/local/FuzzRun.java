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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends hostile records ({@link RecordFuzzer}) of every kind to every input topic of a running local
 * stack, with good requests interleaved, and accounts for each record by its own id: a hostile
 * request must be dead-lettered or answered (exactly one of the two, once), every other hostile
 * record dead-lettered at most once by each job that reads its topic (or used), every good request
 * answered once, and the job still running.
 *
 * <p>Each record sent gets an id: {@code INPUT|KIND|i} for a hostile record (also its Kafka key),
 * {@code good-N} for a good request. A request carries its id in the {@link #ID_HEADER} header,
 * which the job copies onto its answer, so an answer is matched to the record sent even when a bit
 * flip changed the request id inside the record (a good request's answer is also matched by its
 * request id). A dead letter is matched by the topic, partition and offset it names, which the
 * broker gave each record on sending. Answers and dead letters that match no record sent by this
 * run (e.g. a late answer to a probe sent before it) are counted apart, as unmatched.
 */
public final class FuzzRun {
  /** The header that carries a request's id in this run; the job copies a request's headers onto its answer. */
  public static final String ID_HEADER = "nann-fuzz-id";

  /**
   * What happened to the records of one topic and kind (for requests) or of the good requests, each
   * figure a count of distinct records, measured.
   *
   * @param sent records the broker acknowledged
   * @param answered records with at least one answer (only requests are answered)
   * @param deadLettered records with at least one dead letter
   * @param deadLetters dead letters naming these records (a record of a topic both jobs read, item
   *     embeddings, can get one from each)
   * @param seenTwice records answered more than once, dead-lettered more often than jobs read their
   *     topic, or both answered and dead-lettered
   * @param neverSeen records neither answered nor dead-lettered: for a request, lost; for a record
   *     of another topic, taken in by the job (there is no answer to wait for)
   */
  public record Tally(int sent, int answered, int deadLettered, int deadLetters, int seenTwice, int neverSeen) {
    static final Tally NONE = new Tally(0, 0, 0, 0, 0, 0);

    /** One sent record's fate. */
    static Tally of(Sent s) {
      return new Tally(1, s.answers > 0 ? 1 : 0, s.deadLetters > 0 ? 1 : 0, s.deadLetters, s.seenTwice() ? 1 : 0,
          s.seen() ? 0 : 1);
    }

    Tally plus(Tally o) {
      return new Tally(sent + o.sent, answered + o.answered, deadLettered + o.deadLettered, deadLetters + o.deadLetters,
          seenTwice + o.seenTwice, neverSeen + o.neverSeen);
    }
  }

  /** What happened to the records of one topic and kind. */
  public record Row(RecordFuzzer.Input input, RecordFuzzer.Kind kind, Tally tally) {
  }

  /**
   * @param rows per input topic and kind
   * @param hostileRequests the hostile requests of all kinds (the REQUESTS rows summed)
   * @param good the good requests interleaved with the hostile ones
   * @param goodAnsweredOk good requests with an answer OK or COLD_START
   * @param seenTwice records of every row and good requests seen twice (see {@link Tally#seenTwice})
   * @param unmatchedAnswers answers whose request is not one sent by this run
   * @param unmatchedDeadLetters dead letters whose record is not one sent by this run
   * @param jobRunning the job is still running (no failure: the stack runs without restarts)
   * @param answersByStatus statuses of the answers to hostile requests
   * @param anomalies up to 20 records seen twice or requests never seen, each with what was seen of it
   */
  public record Result(List<Row> rows, Tally hostileRequests, Tally good, int goodAnsweredOk, int seenTwice,
                       int unmatchedAnswers, int unmatchedDeadLetters, boolean jobRunning,
                       Map<ResponseStatus, Integer> answersByStatus, List<String> anomalies) {
  }

  /** One record sent: which row it counts in, and what came of it. */
  private static final class Sent {
    final String id;
    final String row;            // "INPUT|KIND", or "good"
    final boolean request;
    final int readers;           // jobs that read its topic (each may dead-letter it once)
    int answers;
    int answersOk;
    int deadLetters;

    Sent(String id, String row, boolean request, int readers) {
      this.id = id;
      this.row = row;
      this.request = request;
      this.readers = readers;
    }

    boolean seen() {
      return answers + deadLetters > 0;
    }

    boolean seenTwice() {
      return answers > 1 || deadLetters > readers || (answers > 0 && deadLetters > 0);
    }

    @Override
    public String toString() {
      return id + " (" + answers + " answers, " + deadLetters + " dead letters)";
    }
  }

  private FuzzRun() {}

  /**
   * @param perTopic hostile records per input topic (spread over the kinds)
   * @param goodEvery one good request after this many hostile records
   * @param users users with behaviour in the stack (good requests ask for them)
   * @param withIndexSync the stack runs index-sync too, so item-embeddings records are read (and may
   *     be dead-lettered) by two jobs
   */
  public static Result run(LocalStack stack, int perTopic, int goodEvery, int users, int dim, long seed,
                           boolean withIndexSync, PrintStream log) throws Exception {
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
    Map<String, Sent> byId = new LinkedHashMap<>();
    Map<String, Sent> byOffset = new HashMap<>();   // "topic/partition/offset"
    int goodSent = 0;
    RecordFuzzer.Kind[] kinds = RecordFuzzer.Kind.values();
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap);
         KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow();
         KafkaConsumer<byte[], byte[]> dead = stack.client.fromNow(cfg.get(ServingOptions.TOPIC_DEAD_LETTER))) {
      long t0 = System.nanoTime();
      List<Map.Entry<Sent, Future<RecordMetadata>>> acks = new ArrayList<>();
      int sinceGood = 0;
      for (int i = 0; i < perTopic; i++) {
        for (RecordFuzzer.Input input : RecordFuzzer.Input.values()) {
          RecordFuzzer.Kind kind = kinds[i % kinds.length];
          boolean request = input == RecordFuzzer.Input.REQUESTS;
          Sent s = new Sent(input + "|" + kind + "|" + i, input + "|" + kind, request,
              input == RecordFuzzer.Input.ITEM_EMBEDDINGS && withIndexSync ? 2 : 1);
          byId.put(s.id, s);
          byte[] id = s.id.getBytes(StandardCharsets.UTF_8);
          ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(topics.get(input), id, fuzzer.next(input, kind));
          if (request) {
            record.headers().add(ID_HEADER, id);
          }
          acks.add(Map.entry(s, producer.send(record)));
          if (++sinceGood >= goodEvery) {
            sinceGood = 0;
            RetrievalRequest r = ServingClient.request(goodSent % users, 20, "nann");
            r.setRequestId("good-" + goodSent++);
            Sent g = new Sent(r.getRequestId(), "good", true, 1);
            byId.put(g.id, g);
            ProducerRecord<byte[], byte[]> gr = new ProducerRecord<>(topics.get(RecordFuzzer.Input.REQUESTS),
                Long.toString(r.getUserId()).getBytes(StandardCharsets.UTF_8), requests.encode(r));
            gr.headers().add(ID_HEADER, g.id.getBytes(StandardCharsets.UTF_8));
            acks.add(Map.entry(g, producer.send(gr)));
          }
        }
      }
      producer.flush();
      for (Map.Entry<Sent, Future<RecordMetadata>> a : acks) {
        RecordMetadata m;
        try {
          m = a.getValue().get();
        } catch (ExecutionException e) {
          throw new IllegalStateException("the broker refused record " + a.getKey().id + ": " + e.getCause(), e.getCause());
        }
        byOffset.put(m.topic() + "/" + m.partition() + "/" + m.offset(), a.getKey());
      }
      log.printf("[fuzz] sent %,d hostile records (%,d per topic) and %,d good requests in %.1f s%n",
          perTopic * topics.size(), perTopic, goodSent, (System.nanoTime() - t0) / 1e9);

      // done when every request (hostile or good) was seen and every record of a wrong schema was
      // dead-lettered by each job reading it; then wait until 3 s pass without an answer or dead
      // letter, so that a second answer or dead letter to a record has time to show
      int requestsUnseen = 0;
      int wrongSchemaLettersDue = 0;
      for (Sent s : byId.values()) {
        requestsUnseen += s.request ? 1 : 0;
        wrongSchemaLettersDue += s.row.endsWith("|" + RecordFuzzer.Kind.WRONG_FINGERPRINT) ? s.readers : 0;
      }
      Map<ResponseStatus, Integer> statuses = new EnumMap<>(ResponseStatus.class);
      AvroCodec<DeadLetter> letters = AvroCodec.of(DeadLetter.class);
      int unmatchedAnswers = 0;
      int unmatchedDeadLetters = 0;
      long quietSince = System.nanoTime();
      long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
      while (System.nanoTime() < deadline) {
        long quiet = System.nanoTime() - quietSince;
        boolean done = requestsUnseen == 0 && wrongSchemaLettersDue <= 0;
        if (quiet > Duration.ofSeconds(done ? 3 : 15).toNanos()) {
          break;
        }
        boolean any = false;
        for (ConsumerRecord<byte[], byte[]> r : responses.poll(Duration.ofMillis(100))) {
          any = true;
          RetrievalResponse resp = stack.client.decode(r);
          Header h = r.headers().lastHeader(ID_HEADER);
          Sent s = byId.get(h != null && h.value() != null ? new String(h.value(), StandardCharsets.UTF_8)
              : resp.getRequestId());
          if (s == null || !s.request || (h == null && !s.row.equals("good"))) {
            unmatchedAnswers++;
            continue;
          }
          requestsUnseen -= s.seen() ? 0 : 1;
          s.answers++;
          if (resp.getStatus() == ResponseStatus.OK || resp.getStatus() == ResponseStatus.COLD_START) {
            s.answersOk++;
          }
          if (!s.row.equals("good")) {
            statuses.merge(resp.getStatus(), 1, Integer::sum);
          }
        }
        for (ConsumerRecord<byte[], byte[]> r : dead.poll(Duration.ofMillis(100))) {
          any = true;
          DeadLetter d = letters.decode(r.value());
          Sent s = byOffset.get(d.getTopic() + "/" + d.getPartition() + "/" + d.getOffset());
          if (s == null) {
            unmatchedDeadLetters++;
            continue;
          }
          requestsUnseen -= s.request && !s.seen() ? 1 : 0;
          s.deadLetters++;
          if (s.row.endsWith("|" + RecordFuzzer.Kind.WRONG_FINGERPRINT) && s.deadLetters <= s.readers) {
            wrongSchemaLettersDue--;
          }
        }
        if (any) {
          quietSince = System.nanoTime();
        }
      }

      Map<String, Tally> tallies = new HashMap<>();   // by row
      int goodAnsweredOk = 0;
      int seenTwice = 0;
      List<String> anomalies = new ArrayList<>();
      for (Sent s : byId.values()) {
        tallies.merge(s.row, Tally.of(s), Tally::plus);
        goodAnsweredOk += s.row.equals("good") && s.answersOk > 0 ? 1 : 0;
        seenTwice += s.seenTwice() ? 1 : 0;
        if ((s.seenTwice() || (s.request && !s.seen())) && anomalies.size() < 20) {
          anomalies.add(s.toString());
        }
      }
      List<Row> rows = new ArrayList<>();
      Tally hostile = Tally.NONE;
      for (RecordFuzzer.Input input : RecordFuzzer.Input.values()) {
        for (RecordFuzzer.Kind kind : kinds) {
          Tally t = tallies.getOrDefault(input + "|" + kind, Tally.NONE);
          rows.add(new Row(input, kind, t));
          if (input == RecordFuzzer.Input.REQUESTS) {
            hostile = hostile.plus(t);
          }
        }
      }
      Tally g = tallies.getOrDefault("good", Tally.NONE);
      log.printf("[fuzz] hostile requests: %,d sent, %,d answered, %,d dead-lettered, %,d seen twice, %,d never seen; "
          + "good requests: %,d sent, %,d answered OK or COLD_START, %,d seen twice, %,d never seen; %,d records seen "
          + "twice in all; %,d answers and %,d dead letters matched no record of this run%n", hostile.sent(),
          hostile.answered(), hostile.deadLettered(), hostile.seenTwice(), hostile.neverSeen(), g.sent(), goodAnsweredOk,
          g.seenTwice(), g.neverSeen(), seenTwice, unmatchedAnswers, unmatchedDeadLetters);
      boolean running = stack.job().getJobStatus().get() == org.apache.flink.api.common.JobStatus.RUNNING;
      return new Result(rows, hostile, g, goodAnsweredOk, seenTwice,
          unmatchedAnswers, unmatchedDeadLetters, running, statuses, anomalies);
    }
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
