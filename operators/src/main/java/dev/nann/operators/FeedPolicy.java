package dev.nann.operators;

import java.io.Serializable;

/**
 * What a trigger event may push to the candidate feed: the answer's size, how often one user's
 * triggers are taken, and how old a trigger may be. A trigger is a full retrieval on the walkers
 * that also answer requests, so one user (or a bot) sending triggers without pause, or a backlog of
 * old triggers replayed after downtime, must not take them from everyone else: a trigger within
 * {@code minIntervalMillis} of the user's last one taken, or older than {@code maxAgeMillis} by its
 * record's timestamp, still joins the behaviour sequence but pushes nothing, and a taken trigger
 * must start its walk within {@code maxAgeMillis} of its record's timestamp (its deadline), or the
 * engine sheds it before the requests that are waiting.
 *
 * @param k items in each push
 * @param minIntervalMillis least time between two of one user's triggers that are taken (0: any)
 * @param maxAgeMillis oldest a trigger may be, by its record timestamp, to be taken and walked (0: any)
 */
public record FeedPolicy(int k, long minIntervalMillis, long maxAgeMillis) implements Serializable {
  /** Why a trigger pushes nothing, or null when it is taken. */
  enum Skip { THROTTLED, STALE }

  /**
   * Whether a trigger arriving {@code now} (this job's clock) in a record stamped {@code recordMillis}
   * (0: unknown) is taken, for a user whose last taken trigger was at {@code lastTakenMillis} (0: none).
   */
  Skip judge(long now, long recordMillis, long lastTakenMillis) {
    if (maxAgeMillis > 0 && recordMillis > 0 && now - recordMillis > maxAgeMillis) {
      return Skip.STALE;
    }
    if (minIntervalMillis > 0 && lastTakenMillis > 0 && now - lastTakenMillis < minIntervalMillis) {
      return Skip.THROTTLED;
    }
    return null;
  }

  /** The deadline of a taken trigger's retrieval (epoch ms; 0: none). */
  long deadline(long recordMillis) {
    return maxAgeMillis > 0 && recordMillis > 0 ? recordMillis + maxAgeMillis : 0;
  }
}
