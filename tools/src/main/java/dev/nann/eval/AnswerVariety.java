package dev.nann.eval;

import dev.nann.engine.QueryExecutor;
import java.util.HashSet;
import java.util.Set;

/**
 * How many distinct items a mode's answers hold across users. A model that ranks by the items and
 * hardly by the user (a popularity ranking, an under-trained model) gives every user nearly the same
 * k items: its coverage figures are then about one list, not about personal answers.
 *
 * @param distinct distinct items over all answers
 * @param returned items over all answers
 * @param users answers counted
 */
record AnswerVariety(int distinct, long returned, int users) {
  /** At most this many times k distinct items over all users' answers: nearly everyone got the same list. */
  static final double SAME_LIST = 1.5;

  /** Users below which no verdict is given: a handful of users may share a list by chance. */
  static final int MIN_USERS = 10;

  static AnswerVariety of(QueryExecutor.Answer[] answers) {
    Set<Long> seen = new HashSet<>();
    long returned = 0;
    for (QueryExecutor.Answer a : answers) {
      for (long id : a.items()) {
        seen.add(id);
      }
      returned += a.items().length;
    }
    return new AnswerVariety(seen.size(), returned, answers.length);
  }

  /** Distinct items per item returned (1: no two answers share an item). */
  double share() {
    return returned == 0 ? 0 : (double) distinct / returned;
  }

  /** Whether nearly every user got the same {@code k} items. */
  boolean sameList(int k) {
    return users >= MIN_USERS && distinct <= SAME_LIST * k;
  }

  /** The line the eval prints for {@code mode}. */
  String line(Object mode) {
    return String.format(java.util.Locale.ROOT,
        "[eval] %s: %d distinct items in %d answers (%.3f): a low share means every user gets the same items",
        mode, distinct, returned, share());
  }

  /** The warning when {@link #sameList} holds. */
  String warning(int k) {
    return String.format(java.util.Locale.ROOT, "[eval] WARNING: nearly every user gets the same items: %d distinct "
        + "items in the top-%d answers of %d users. The model ranks by the items and hardly by the user (as a "
        + "popularity ranking does), so the coverage figures are about one shared list; check its training (more "
        + "epochs, the user features it sees) before tuning the walk on it.", distinct, k, users);
  }
}
