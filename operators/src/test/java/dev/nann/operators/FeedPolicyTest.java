package dev.nann.operators;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/**
 * Which trigger events a user's feed takes: not sooner than the interval after the last taken, not
 * older than the age, both by the records' timestamps (a replay judges as the first run did).
 */
class FeedPolicyTest {
  private static final long NOW = 1_000_000_000L;

  @Test
  void aTriggerSoonAfterTheLastTakenIsThrottledAndAnOldOneIsStale() {
    FeedPolicy p = new FeedPolicy(50, 1000, 60_000);
    assertNull(p.judge(NOW, NOW - 5, 0), "a user's first trigger is taken");
    assertEquals(FeedPolicy.Skip.THROTTLED, p.judge(NOW, NOW - 5, NOW - 1004));
    assertNull(p.judge(NOW, NOW - 5, NOW - 1005), "taken once the interval has passed since the last taken");
    assertEquals(FeedPolicy.Skip.STALE, p.judge(NOW, NOW - 60_001, 0), "a backlog's old trigger");
    assertEquals(NOW + 60_000, p.deadline(NOW), "its walk must start within the age");
  }

  @Test
  void aReplayJudgesByTheRecordsTimestampsNotByWhenItRuns() {
    FeedPolicy p = new FeedPolicy(50, 1000, 60_000);
    // two triggers 4 s apart in the log, replayed within a millisecond of each other 30 s later
    long first = NOW - 30_000;
    long second = first + 4_000;
    assertNull(p.judge(NOW, FeedPolicy.triggerTime(NOW, first), 0));
    assertNull(p.judge(NOW + 1, FeedPolicy.triggerTime(NOW + 1, second), first), "taken on replay as it was live");
  }

  @Test
  void aRecordStampedInTheFutureOrNotAtAllCountsAsNow() {
    FeedPolicy p = new FeedPolicy(50, 1000, 60_000);
    assertEquals(NOW, FeedPolicy.triggerTime(NOW, NOW + 3_600_000), "a flood stamped ahead cannot space itself out");
    assertEquals(NOW, FeedPolicy.triggerTime(NOW, 0));
    assertEquals(FeedPolicy.Skip.THROTTLED, p.judge(NOW, FeedPolicy.triggerTime(NOW, NOW + 5_000), NOW));
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
