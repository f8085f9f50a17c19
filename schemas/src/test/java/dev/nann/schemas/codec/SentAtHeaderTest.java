package dev.nann.schemas.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

class SentAtHeaderTest {
  @Test
  void aStampTakenWithItsRecordReadsBackToTheMicrosecond() {
    long micros = 1_764_900_000_123_456L;
    long recordMillis = micros / 1000;
    assertEquals(micros, SentAtHeader.micros(ByteBuffer.wrap(SentAtHeader.encode(micros)), recordMillis));
  }

  @Test
  void theClockIsEpochMicrosecondsInStepWithTheMillisecondClock() {
    long before = System.currentTimeMillis();
    long now = SentAtHeader.nowMicros();
    long after = System.currentTimeMillis();
    assertTrue(now / 1000 >= before && now / 1000 <= after, now + " us is not between " + before + " and " + after + " ms");
  }

  @Test
  void aMissingMalformedOrFarOffStampIsIgnored() {
    long micros = 1_764_900_000_123_456L;
    long recordMillis = micros / 1000;
    assertEquals(-1, SentAtHeader.micros(null, recordMillis));
    assertEquals(-1, SentAtHeader.micros(ByteBuffer.wrap(new byte[] {1, 2, 3}), recordMillis));
    assertEquals(-1, SentAtHeader.micros(ByteBuffer.wrap(new byte[9]), recordMillis));
    // a client clock (or a header) more than a second away from the record's own timestamp
    assertEquals(-1, SentAtHeader.micros(ByteBuffer.wrap(SentAtHeader.encode(micros + 1_000_001)), recordMillis));
    assertEquals(-1, SentAtHeader.micros(ByteBuffer.wrap(SentAtHeader.encode(Long.MIN_VALUE)), recordMillis));
    assertEquals(micros - 999_000, SentAtHeader.micros(ByteBuffer.wrap(SentAtHeader.encode(micros - 999_000)), recordMillis));
  }

  @Test
  void readingDoesNotConsumeTheBuffer() {
    ByteBuffer value = ByteBuffer.wrap(SentAtHeader.encode(5_000_000));
    SentAtHeader.micros(value, 5_000);
    assertEquals(Long.BYTES, value.remaining());
  }

  @Test
  void aRecordTimestampWhoseMicrosecondsOverflowIsNoMatchForAnyStamp() {
    // 18,446,744,073,709,552 ms x 1000 wraps around 2^64 to 384: a stamp of 384 us would have fitted it
    long wraps = 18_446_744_073_709_552L;
    assertEquals(-1, SentAtHeader.micros(java.nio.ByteBuffer.wrap(SentAtHeader.encode(384)), wraps));
    assertEquals(-1, SentAtHeader.micros(java.nio.ByteBuffer.wrap(SentAtHeader.encode(0)), Long.MIN_VALUE));
  }
}
