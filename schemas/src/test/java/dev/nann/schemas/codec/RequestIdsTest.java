package dev.nann.schemas.codec;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Request ids a client may send: ones that reach the job, and come back, as themselves. */
class RequestIdsTest {
  @Test
  void idsThatDoNotSurviveUtf8AreRefusedAndTextIsNot() {
    assertNull(RequestIds.problem("ré-\uD83D\uDE00"));
    String cut = "x\uD83D";   // an emoji cut in half: UTF-8 writes it as '?', another id
    assertTrue(RequestIds.problem(cut).contains("lone UTF-16 surrogate"), RequestIds.problem(cut));
    assertTrue(RequestIds.problem(" ").contains("empty"));
    assertTrue(RequestIds.problem("x".repeat(RequestIds.MAX_BYTES + 1)).contains("longer than"));
  }
}
