package dev.nann.operators;

/**
 * Request ids of trigger events' retrievals, {@code feed-<user>-<event time>-<event count>}: the
 * event count (the user's behaviour events so far, this one included) travels in the id to the
 * candidate record, whose {@code eventSeq} tells a consumer which of a user's pushes is newest.
 */
final class FeedRequestIds {
  private FeedRequestIds() {}

  static String of(long userId, long eventMillis, long eventCount) {
    return "feed-" + userId + "-" + eventMillis + "-" + eventCount;
  }

  /** The event count in a feed request id, or 0 for an id not made by {@link #of}. */
  static long eventCount(String requestId) {
    int dash = requestId.lastIndexOf('-');
    if (!requestId.startsWith("feed-") || dash < 0) {
      return 0;
    }
    try {
      return Math.max(0, Long.parseLong(requestId.substring(dash + 1)));
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
