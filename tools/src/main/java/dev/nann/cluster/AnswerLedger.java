package dev.nann.cluster;

import dev.nann.local.LatencyStats;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Every request of a run by sequence number: when it was sent, how many answers came back and when
 * the first did. One thread records sends, one records answers; read after both have stopped (or
 * {@link #answeredDistinct} while they run).
 */
final class AnswerLedger {
  private final long[] sentAt;
  private final long[] firstAnswerAt;
  private final int[] answers;
  private final long[] indexVersion;
  private final String[] status;
  private final AtomicInteger distinct = new AtomicInteger();
  private int sent;

  AnswerLedger(int requests) {
    sentAt = new long[requests];
    firstAnswerAt = new long[requests];
    answers = new int[requests];
    indexVersion = new long[requests];
    status = new String[requests];
  }

  void sent(int seq, long nanos) {
    sentAt[seq] = nanos;
    sent++;
  }

  /** Records an answer; returns false for a sequence number this run never sent. */
  boolean answered(int seq, long nanos, String answerStatus, long answerIndexVersion) {
    if (seq < 0 || seq >= answers.length) {
      return false;
    }
    if (answers[seq]++ == 0) {
      firstAnswerAt[seq] = nanos;
      status[seq] = answerStatus;
      indexVersion[seq] = answerIndexVersion;
      distinct.incrementAndGet();
    }
    return true;
  }

  int sent() {
    return sent;
  }

  int answeredDistinct() {
    return distinct.get();
  }

  /** Answers beyond the first, over all requests. */
  long duplicates() {
    long d = 0;
    for (int a : answers) {
      d += Math.max(0, a - 1);
    }
    return d;
  }

  /** Seconds from {@code faultAt} to the first answer to a request sent after it; NaN if none came. */
  double recoverySeconds(long faultAt) {
    long first = Long.MAX_VALUE;
    for (int i = 0; i < answers.length; i++) {
      if (answers[i] > 0 && sentAt[i] > faultAt) {
        first = Math.min(first, firstAnswerAt[i]);
      }
    }
    return first == Long.MAX_VALUE ? Double.NaN : (first - faultAt) / 1e9;
  }

  /**
   * The latency above which an answer counts as slow: twice the p90 of requests sent in [from, to)
   * (the steady time before the first fault; p90, not p99, so a warm-up straggler does not set it),
   * at least 0.5 s.
   */
  long slowNanos(long from, long to) {
    LatencyStats steady = new LatencyStats();
    for (int i = 0; i < answers.length; i++) {
      if (answers[i] > 0 && sentAt[i] >= from && sentAt[i] < to) {
        steady.add((firstAnswerAt[i] - sentAt[i]) / 1e6f);
      }
    }
    return (long) (Math.max(500, 2 * steady.quantile(0.90)) * 1e6);
  }

  /**
   * Seconds from {@code faultAt} until answers are prompt again: when the last answer slower than
   * {@code slowNanos} arrived, among requests sent from 10 s before the fault and answered before
   * {@code windowEnd} (the next fault). 0 if none was slow.
   */
  double backlogClearedSeconds(long faultAt, long windowEnd, long slowNanos) {
    long lastSlowArrival = faultAt;
    for (int i = 0; i < answers.length; i++) {
      if (answers[i] > 0 && sentAt[i] >= faultAt - 10_000_000_000L && firstAnswerAt[i] < windowEnd
          && firstAnswerAt[i] - sentAt[i] > slowNanos) {
        lastSlowArrival = Math.max(lastSlowArrival, firstAnswerAt[i]);
      }
    }
    return (lastSlowArrival - faultAt) / 1e9;
  }

  /** When the first and the last unanswered request were sent, in seconds after {@code origin}; empty if none. */
  java.util.Optional<double[]> unansweredSent(long origin) {
    double first = Double.NaN;
    double last = Double.NaN;
    for (int i = 0; i < answers.length; i++) {
      if (sentAt[i] != 0 && answers[i] == 0) {
        double t = (sentAt[i] - origin) / 1e9;
        first = Double.isNaN(first) ? t : Math.min(first, t);
        last = Double.isNaN(last) ? t : Math.max(last, t);
      }
    }
    return Double.isNaN(first) ? java.util.Optional.empty() : java.util.Optional.of(new double[] {first, last});
  }

  /** First answers that arrived in [from, to). */
  int answersBetween(long from, long to) {
    int n = 0;
    for (int i = 0; i < answers.length; i++) {
      if (answers[i] > 0 && firstAnswerAt[i] >= from && firstAnswerAt[i] < to) {
        n++;
      }
    }
    return n;
  }

  /** How many requests got each status (their first answer's). */
  java.util.SortedMap<String, Integer> statuses() {
    java.util.SortedMap<String, Integer> m = new java.util.TreeMap<>();
    for (String st : status) {
      if (st != null) {
        m.merge(st, 1, Integer::sum);
      }
    }
    return m;
  }

  /** Index versions of the first answers to requests sent after {@code t}, with their counts. */
  java.util.SortedMap<Long, Integer> versionsSentAfter(long t) {
    java.util.SortedMap<Long, Integer> m = new java.util.TreeMap<>();
    for (int i = 0; i < answers.length; i++) {
      if (answers[i] > 0 && sentAt[i] > t) {
        m.merge(indexVersion[i], 1, Integer::sum);
      }
    }
    return m;
  }

  /** Send-to-first-answer latency of every answered request. */
  LatencyStats latencies() {
    LatencyStats s = new LatencyStats();
    for (int i = 0; i < answers.length; i++) {
      if (answers[i] > 0) {
        s.add((firstAnswerAt[i] - sentAt[i]) / 1e6f);
      }
    }
    return s;
  }
}
