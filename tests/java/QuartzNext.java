import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.TimeZone;

import org.quartz.CronExpression;

/**
 * Reference oracle for tests/integration/test_cron_quartz_differential.py.
 *
 * <p>Reads lines {@code expr<TAB>tz<TAB>afterEpochMs<TAB>count} from stdin (in {@code expr},
 * backslash escapes {@code \\t \\n \\r \\\\} stand for tab, newline, carriage return and
 * backslash) and writes one line per input: {@code STATUS<TAB>t1,t2,...<TAB>message}, where the
 * times are the chained {@code getTimeAfter} results in epoch milliseconds and STATUS is
 * {@code OK} (fewer times than asked means Quartz returned null), {@code PARSE_ERR},
 * {@code EVAL_ERR} (an exception from getTimeAfter) or {@code TIMEOUT} (Quartz did not return
 * within the time limit; it loops forever on some expressions). The first output line is
 * {@code MAX_YEAR<TAB>n<TAB>}, Quartz's clock-dependent last year.
 *
 * <p>Usage: {@code java -cp quartz2.jar:. QuartzNext [timeoutMillis]}.
 */
public final class QuartzNext {
    private QuartzNext() {
    }

    public static void main(String[] args) throws Exception {
        long timeoutMillis = args.length > 0 ? Long.parseLong(args[0]) : 2000L;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false, "UTF-8");
        out.println("MAX_YEAR\t" + CronExpression.MAX_YEAR + "\t");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String[] parts = line.split("\t", -1);
            out.println(evaluate(unescape(parts[0]), parts[1], Long.parseLong(parts[2]),
                    Integer.parseInt(parts[3]), timeoutMillis));
        }
        out.flush();
    }

    @SuppressWarnings({"deprecation", "removal"})
    private static String evaluate(String expr, String tz, long after, int count, long timeoutMillis)
            throws InterruptedException {
        final String[] result = new String[1];
        final List<Long> times = new ArrayList<>();
        Thread worker = new Thread(() -> {
            CronExpression cron;
            try {
                cron = new CronExpression(expr);
            } catch (ParseException e) {
                result[0] = "PARSE_ERR\t\t" + clean(String.valueOf(e.getMessage()));
                return;
            }
            cron.setTimeZone(TimeZone.getTimeZone(tz));
            Date date = new Date(after);
            try {
                for (int i = 0; i < count; i++) {
                    date = cron.getTimeAfter(date);
                    if (date == null) {
                        break;
                    }
                    synchronized (times) {
                        times.add(date.getTime());
                    }
                }
                result[0] = "OK\t" + join(times) + "\t";
            } catch (RuntimeException e) {
                result[0] = "EVAL_ERR\t" + join(times) + "\t" + clean(e.toString());
            }
        });
        worker.setDaemon(true);
        worker.start();
        worker.join(timeoutMillis);
        if (worker.isAlive()) {
            // Quartz spins forever on a few expressions; Thread.stop still works on Java 17.
            worker.stop();
            worker.join(timeoutMillis);
            return "TIMEOUT\t" + join(times) + "\t";
        }
        return result[0];
    }

    private static String join(List<Long> times) {
        StringBuilder sb = new StringBuilder();
        synchronized (times) {
            for (Long t : times) {
                if (sb.length() > 0) {
                    sb.append(',');
                }
                sb.append(t);
            }
        }
        return sb.toString();
    }

    private static String clean(String message) {
        return message.replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
    }

    private static String unescape(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\\' && i + 1 < text.length()) {
                char n = text.charAt(++i);
                sb.append(n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n);
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
