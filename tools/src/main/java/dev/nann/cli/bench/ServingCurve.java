package dev.nann.cli.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogarithmicAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.ui.RectangleAnchor;
import org.jfree.chart.ui.TextAnchor;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * The latency/throughput curve of {@code ./nann bench serving} as a PNG: client p50 and p99 against
 * the offered rate, one pair of lines per micro-batching setting, with the p99 budget drawn across.
 * Drawn with JFreeChart, headless.
 */
final class ServingCurve {
  static final int WIDTH = 900;
  static final int HEIGHT = 560;

  /** One rate of one run: the offered rate and the client's p50 and p99, in ms. */
  record Point(String batching, double offeredQps, double p50Ms, double p99Ms) {}

  private final List<Point> points = new ArrayList<>();

  void add(Point p) {
    points.add(p);
  }

  boolean isEmpty() {
    return points.isEmpty();
  }

  /**
   * Writes the PNG (parent folders created).
   *
   * @param title names the run: items, model, delivery
   */
  void write(Path png, String title, double budgetMs) throws IOException {
    System.setProperty("java.awt.headless", "true");   // before any AWT class loads: no display needed
    Map<String, XYSeries[]> runs = new LinkedHashMap<>();   // per batching setting, in run order: p50, p99
    double low = budgetMs;
    double high = 2 * budgetMs;
    for (Point p : points) {
      low = Math.min(low, p.p50Ms());
      high = Math.max(high, 1.5 * p.p99Ms());
      XYSeries[] run = runs.computeIfAbsent(p.batching(), b -> new XYSeries[] {
          new XYSeries("p50, batching " + b), new XYSeries("p99, batching " + b)});
      run[0].add(p.offeredQps(), Math.max(0.1, p.p50Ms()));
      run[1].add(p.offeredQps(), Math.max(0.1, p.p99Ms()));
    }
    XYSeriesCollection data = new XYSeriesCollection();
    runs.values().forEach(run -> {
      data.addSeries(run[0]);
      data.addSeries(run[1]);
    });

    NumberAxis rate = new NumberAxis("offered requests/s");
    LogarithmicAxis latency = new LogarithmicAxis("client latency, ms (log)");
    latency.setRange(Math.max(0.1, low / 1.5), high);   // the budget line always shows
    XYLineAndShapeRenderer lines = new XYLineAndShapeRenderer(true, true);
    Color[] colours = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd)};
    for (int i = 0; i < data.getSeriesCount(); i++) {
      boolean p99 = i % 2 == 1;   // series come in pairs per setting, p50 then p99
      lines.setSeriesPaint(i, colours[(i / 2) % colours.length]);   // one colour per setting: p50 dashed, p99 solid
      lines.setSeriesStroke(i, p99 ? new BasicStroke(2f) : new BasicStroke(2f, BasicStroke.CAP_BUTT,
          BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
    }
    XYPlot plot = new XYPlot(data, rate, latency, lines);
    plot.setBackgroundPaint(Color.WHITE);
    plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
    plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
    ValueMarker budget = new ValueMarker(budgetMs, Color.GRAY, new BasicStroke(1.5f));
    budget.setLabel(String.format(Locale.ROOT, "p99 budget %.0f ms", budgetMs));
    budget.setLabelAnchor(RectangleAnchor.TOP_LEFT);
    budget.setLabelTextAnchor(TextAnchor.BOTTOM_LEFT);
    plot.addRangeMarker(budget);
    JFreeChart chart = new JFreeChart(title, JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    chart.setBackgroundPaint(Color.WHITE);
    if (png.toAbsolutePath().getParent() != null) {
      Files.createDirectories(png.toAbsolutePath().getParent());
    }
    ChartUtils.saveChartAsPNG(png.toFile(), chart, WIDTH, HEIGHT);
  }
}
