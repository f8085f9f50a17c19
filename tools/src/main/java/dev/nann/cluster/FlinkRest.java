package dev.nann.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The few calls of Flink's REST API (the one behind the web UI) that the cluster tools need: cluster
 * overview, TaskManagers, job state, checkpoints, restarts, cancel.
 */
public final class FlinkRest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final String base;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  public FlinkRest(String base) {
    this.base = base;
  }

  /** GET {@code path} as JSON. */
  public JsonNode get(String path) throws IOException {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10))
          .GET().build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() / 100 != 2) {
        throw new IOException("GET " + base + path + " answered " + r.statusCode() + ": " + r.body());
      }
      return JSON.readTree(r.body());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  /** True when the REST endpoint answers. */
  public boolean up() {
    try {
      get("/overview");
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Registered TaskManagers' resource ids (a killed one stays until its heartbeat times out). */
  public List<String> taskManagers() throws IOException {
    List<String> ids = new ArrayList<>();
    get("/taskmanagers").path("taskmanagers").forEach(t -> ids.add(t.path("id").asText()));
    return ids;
  }

  /** How many failures the job has recovered from (its exception history; not a cached metric). */
  public int failovers(String jobId) throws IOException {
    return get("/jobs/" + jobId + "/exceptions?maxExceptions=1000").path("exceptionHistory").path("entries").size();
  }

  /** The TaskManager resource ids that run a subtask of the job's vertex whose name contains {@code vertexName}. */
  public List<String> taskManagersOf(String jobId, String vertexName) throws IOException {
    List<String> tms = new ArrayList<>();
    for (JsonNode v : get("/jobs/" + jobId).path("vertices")) {
      if (v.path("name").asText().contains(vertexName)) {
        for (JsonNode t : get("/jobs/" + jobId + "/vertices/" + v.path("id").asText() + "/taskmanagers").path("taskmanagers")) {
          tms.add(t.path("taskmanager-id").asText());
        }
      }
    }
    return tms;
  }
}
