package dev.nann.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** What a valid request is, and that every answer carries every field. */
class RequestProtocolTest {
  private static RetrievalRequest.Builder request() {
    return RetrievalRequest.newBuilder().setRequestId("r-1").setUserId(7).setK(10).setMode("nann")
        .setCreatedAtMillis(1L);
  }

  @Test
  void acceptsAWellFormedRequestInEveryMode() {
    for (String mode : List.of("nann", "beam", "hnsw", "brute", "dr")) {
      assertNull(RequestProtocol.validate(request().setMode(mode).build(), 100, true), mode);
    }
    assertNull(RequestProtocol.validate(request().setK(100).setBudget(5).build(), 100, true));
  }

  @Test
  void bruteForceIsForClientsOnlyWhenTheJobAllowsIt() {
    assertTrue(RequestProtocol.validate(request().setMode("brute").build(), 100, false).contains("search.allow-brute"));
    assertNull(RequestProtocol.validate(request().setMode("nann").build(), 100, false));
  }

  @Test
  void refusesEachBadFieldWithAReasonNamingIt() {
    assertTrue(RequestProtocol.validate(request().setMode("fastest").build(), 100, true).contains("fastest"));
    assertTrue(RequestProtocol.validate(request().setBudget(-1).build(), 100, true).startsWith("budget=-1"));
    assertTrue(RequestProtocol.validate(request().setK(0).build(), 100, true).startsWith("k=0"));
    assertTrue(RequestProtocol.validate(request().setK(101).build(), 100, true).contains("[1, 100]"));
    assertEquals("requestId is empty", RequestProtocol.validate(request().setRequestId("").build(), 100, true));
    assertTrue(RequestProtocol.validate(request().setAttributeFilter(Map.of("genre", List.of())).build(), 100, true)
        .contains("'genre'"));
  }

  @Test
  void boundsTheAttributeFilter() {
    Map<String, List<String>> keys = new HashMap<>();
    for (int i = 0; i < RequestProtocol.MAX_FILTER_KEYS; i++) {
      keys.put("k" + i, List.of("v"));
    }
    assertNull(RequestProtocol.validate(request().setAttributeFilter(keys).build(), 100, true));
    keys.put("one-more", List.of("v"));
    String tooMany = RequestProtocol.validate(request().setAttributeFilter(keys).build(), 100, true);
    assertTrue(tooMany.contains("33 keys") && tooMany.contains("at most 32"), tooMany);

    List<String> values = IntStream.range(0, RequestProtocol.MAX_FILTER_VALUES).mapToObj(i -> "v" + i).toList();
    assertNull(RequestProtocol.validate(request().setAttributeFilter(Map.of("genre", values)).build(), 100, true));
    List<String> longer = IntStream.range(0, RequestProtocol.MAX_FILTER_VALUES + 1).mapToObj(i -> "v" + i).toList();
    String tooLong = RequestProtocol.validate(request().setAttributeFilter(Map.of("genre", longer)).build(), 100, true);
    assertTrue(tooLong.contains("'genre' lists 1025 values") && tooLong.contains("at most 1024"), tooLong);
  }

  @Test
  void answersCarryEveryField() {
    RetrievalRequest req = request().build();
    RetrievalResponse err = RequestProtocol.error(req, ResponseStatus.NO_INDEX, "none yet");
    assertEquals("r-1", err.getRequestId());
    assertEquals(7L, err.getUserId());
    assertEquals(-1L, err.getIndexVersion());
    assertEquals("", err.getModelVersion());
    assertTrue(err.getItems().isEmpty());
    RetrievalResponse ok = RequestProtocol.answer(req, ResponseStatus.OK, "", 3L, "m-1", List.of(5L, 6L),
        List.of(0.9f, 0.1f), 123);
    assertEquals(List.of(5L, 6L), ok.getItems());
    assertEquals(3L, ok.getIndexVersion());
    assertEquals("m-1", ok.getModelVersion());
    assertEquals(123, ok.getItemsScored());
  }
}
