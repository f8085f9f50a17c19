package dev.nann.operators;

import dev.nann.engine.RequestProtocol;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.codec.SentAtHeader;
import dev.nann.schemas.internal.ServingOutput;
import java.util.EnumMap;
import java.util.Map;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.formats.avro.typeutils.AvroTypeInfo;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * The last step before the sinks: stamps each answer's end-to-end latency (from when the request
 * was sent, by the client's {@link SentAtHeader} or else the Kafka record timestamp, to now), counts
 * it, and routes it: request answers to the main output (responses topic), trigger answers to
 * {@link #FEED} (candidates topic) when they are {@link #feedable}. Metrics: answers/s, end-to-end
 * latency histograms (requests; trigger events apart), a counter per status, feed answers dropped.
 */
public final class AnswerRouter extends ProcessFunction<ServingOutput, ServingOutput> {
  public static final OutputTag<ServingOutput> FEED = new OutputTag<>("feed", new AvroTypeInfo<>(ServingOutput.class));

  private transient Histogram latency;
  private transient Histogram feedLatency;
  private transient Counter answers;
  private transient Map<ResponseStatus, Counter> byStatus;
  private transient Counter feedDropped;

  @Override
  public void open(OpenContext ctx) {
    MetricGroup g = getRuntimeContext().getMetricGroup().addGroup("nann");
    answers = g.counter("answers");
    g.meter("answersPerSecond", new MeterView(answers));
    latency = g.histogram("endToEndLatencyMs", new DescriptiveStatisticsHistogram(10_000));
    feedLatency = g.histogram("feedLatencyMs", new DescriptiveStatisticsHistogram(10_000));
    feedDropped = g.counter("feedDropped");
    byStatus = new EnumMap<>(ResponseStatus.class);
    for (ResponseStatus s : ResponseStatus.values()) {
      byStatus.put(s, g.addGroup("status", s.name()).counter("answers"));
    }
  }

  /**
   * Whether a trigger event's answer goes to the candidates topic: a feed record has no status, so
   * an error (no index yet, a timeout, a scorer error) or a partial answer would read as an empty or
   * short list of candidates and could wipe what a consumer holds for the user. Those are counted
   * ({@code feedDropped}) and the user's next trigger event tries again.
   */
  static boolean feedable(ResponseStatus status) {
    return status == ResponseStatus.OK || status == ResponseStatus.COLD_START;
  }

  /** Longest a request is believed to have waited in Kafka before the job read it: the topic's default retention. */
  static final long MAX_WAIT_MICROS = 7L * 24 * 3600 * 1_000_000;

  /**
   * When the request was sent, in epoch microseconds: the client's {@link SentAtHeader} where it
   * stamped one that fits the record, else the record's millisecond timestamp; when the job decoded it
   * if that is after then or more than {@link #MAX_WAIT_MICROS} before (a producer's clock or
   * CreateTime gone wrong must not put years into the latency figures); 0 when nothing is known.
   */
  static long sentMicros(ServingOutput out) {
    long stamped = SentAtHeader.micros(out.getHeaders().get(SentAtHeader.NAME), out.getReceivedAtMillis());
    long sent = stamped >= 0 ? stamped : Math.max(0, Math.min(out.getReceivedAtMillis(), Long.MAX_VALUE / 1000)) * 1000;
    Long decoded = out.getStamps().get("decoded");
    if (decoded != null && decoded > 0
        && (sent > decoded + SentAtHeader.MAX_SKEW_MICROS || sent < decoded - MAX_WAIT_MICROS)) {
      return decoded;
    }
    return sent;
  }

  /** The transport stages of the latency breakdown (the engine wrote its own), from {@code sent} (epoch us). */
  static void breakdown(ServingOutput out, long sent, long nowMicros) {
    Map<String, Long> s = out.getStamps();
    Long decoded = s.get("decoded");
    Long stateIn = s.get("stateIn");
    Long stateOut = s.get("stateOut");
    Long engineEnd = s.get("engineEnd");
    if (decoded == null || stateIn == null || stateOut == null || engineEnd == null || decoded <= 0) {
      return;   // answered before the engine (INVALID, NO_INDEX): no breakdown
    }
    Map<String, Float> t = out.getResponse().getTimings();
    if (sent > 0) {
      t.put("kafka_in", Math.max(0, decoded - sent) / 1e3f);   // in long: floats lose it
    }
    t.put("keyby", Math.max(0, stateIn - decoded) / 1e3f);
    t.put("state", Math.max(0, stateOut - stateIn) / 1e3f);
    t.put("to_router", Math.max(0, nowMicros - engineEnd) / 1e3f);
  }

  @Override
  public void processElement(ServingOutput out, Context ctx, Collector<ServingOutput> main) {
    long now = RequestProtocol.nowMicros();
    long sent = sentMicros(out);
    float e2e = sent > 0 ? Math.max(0, now - sent) / 1e3f : 0f;
    out.getResponse().setLatencyMillis(e2e);
    breakdown(out, sent, now);
    answers.inc();
    // a feed answer is timed from its user event's record time, which a producer may set to when the
    // event happened (or a backlog replays hours later): kept apart from the requests' latency
    (out.getFeed() ? feedLatency : latency).update((long) e2e);
    byStatus.get(out.getResponse().getStatus()).inc();
    if (out.getFeed()) {
      if (feedable(out.getResponse().getStatus())) {
        ctx.output(FEED, out);
      } else {
        feedDropped.inc();
      }
    } else {
      main.collect(out);
    }
  }
}
