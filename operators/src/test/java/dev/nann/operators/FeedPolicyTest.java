package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** Which trigger events a user's feed takes: not sooner than the interval after the last taken, not older than the age. */
class FeedPolicyTest {
  private static final long NOW = 1_000_000_000L;

  @Test
  void aTriggerSoonAfterTheLastTakenIsThrottledAndAnOldOneIsStale() {
    FeedPolicy p = new FeedPolicy(50, 1000, 60_000);
    assertNull(p.judge(NOW, NOW - 5, 0), "a user's first trigger is taken");
    assertEquals(FeedPolicy.Skip.THROTTLED, p.judge(NOW, NOW - 5, NOW - 999));
    assertNull(p.judge(NOW, NOW - 5, NOW - 1000), "taken once the interval has passed");
    assertEquals(FeedPolicy.Skip.STALE, p.judge(NOW, NOW - 60_001, 0), "a backlog's old trigger");
    assertNull(p.judge(NOW, 0, 0), "a record without a timestamp is not judged by age");
    assertEquals(NOW + 60_000, p.deadline(NOW), "its walk must start within the age");
    assertEquals(0, p.deadline(0));
  }

  @Test
  void zeroTurnsEachLimitOff() {
    FeedPolicy off = new FeedPolicy(50, 0, 0);
    assertNull(off.judge(NOW, 1, NOW - 1));
    assertEquals(0, off.deadline(NOW));
  }

  @Test
  void theEventCountTravelsInTheRequestId() {
    assertEquals(17, FeedRequestIds.eventCount(FeedRequestIds.of(-5_000_000_000L, 123, 17)), "a hashed, negative user id");
    assertEquals(3, FeedRequestIds.eventCount(FeedRequestIds.of(42, -1, 3)), "a negative event time");
    assertEquals(0, FeedRequestIds.eventCount("req-42"), "not a feed id");
    assertEquals(0, FeedRequestIds.eventCount("feed-x-y-z"));
  }
}
