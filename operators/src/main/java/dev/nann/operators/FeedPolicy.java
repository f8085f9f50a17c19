package dev.nann.operators;

import java.io.Serializable;

/**
 * What a trigger event may push to the candidate feed: the answer's size, how often one user's
 * triggers are taken, and how old a trigger may be. A trigger is a full retrieval on the walkers
 * that also answer requests, so one user (or a bot) sending triggers without pause, or a backlog of
 * old triggers replayed after downtime, must not take them from everyone else: a trigger within
 * {@code minIntervalMillis} of the user's last one taken, or older than {@code maxAgeMillis}, still
 * joins the behaviour sequence but pushes nothing, and a taken trigger must start its walk within
 * {@code maxAgeMillis} (its deadline), or the engine sheds it before the requests that are waiting.
 *
 * <p>Triggers are timed by their Kafka record timestamps (never later than now), not by when they
 * are processed: the interval throttles a replay after a restore as it throttled the first run,
 * while a flood stamped in one instant, or in the future, is throttled all the same. The age is
 * judged against now: triggers from before an outage longer than {@code maxAgeMillis} are not
 * pushed after it, on a replay either.
 *
 * @param k items in each push
 * @param minIntervalMillis least time between two of one user's triggers that are taken (0: any)
 * @param maxAgeMillis oldest a trigger may be, by its record timestamp, to be taken and walked (0: any)
 */
public record FeedPolicy(int k, long minIntervalMillis, long maxAgeMillis) implements Serializable {
  /** Why a trigger pushes nothing, or null when it is taken. */
  enum Skip { THROTTLED, STALE }

  /**
   * A trigger's time: its record's timestamp ({@code recordMillis}; 0: unknown), or {@code now} when
   * that is unknown or ahead of this job's clock.
   */
  static long triggerTime(long now, long recordMillis) {
    return recordMillis > 0 ? Math.min(recordMillis, now) : now;
  }

  /**
   * Whether a trigger at {@link #triggerTime} {@code at}, judged {@code now}, is taken, for a user
   * whose last taken trigger was at {@code lastTakenMillis} (0: none).
   */
  Skip judge(long now, long at, long lastTakenMillis) {
    if (maxAgeMillis > 0 && now - at > maxAgeMillis) {
      return Skip.STALE;
    }
    if (minIntervalMillis > 0 && lastTakenMillis > 0 && at - lastTakenMillis < minIntervalMillis) {
      return Skip.THROTTLED;
    }
    return null;
  }

  /** The deadline of the retrieval of a trigger taken at {@code at} (epoch ms; 0: none). */
  long deadline(long at) {
    return maxAgeMillis > 0 ? at + maxAgeMillis : 0;
  }
}
