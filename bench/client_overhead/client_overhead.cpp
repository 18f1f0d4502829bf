// client_overhead: the openai backend's own cost per request, against an instant loopback stub
// server (stub_server.cpp), beside a Coral-style aiohttp client (coral_style_client.py) sending
// the same requests to the same stub. For each number of requests in flight: requests/s, CPU
// seconds per 1,000 requests of the client process (getrusage / CLOCK_PROCESS_CPUTIME_ID) and the
// stub's CPU seconds over the same phase (from /proc), which shows the stub is not the bottleneck.
// The plugin is loaded through the C ABI exactly as `parley` loads it (bench/tools/plugin_host.hpp).
//
// usage: client_overhead --plugins DIR --stub PATH --out FILE [--levels 1000,10000]
//                        [--requests N] [--python-requests N] [--python PATH] [--here DIR] [--command TEXT]
//                        [--plugin-only]   (no Python clients: for profiling the plugin)
#include "../tools/plugin_host.hpp"

#include <sys/resource.h>
#include <sys/wait.h>

#include <condition_variable>
#include <filesystem>
#include <thread>

namespace fs = std::filesystem;

namespace {

struct Args {
    std::string plugins, stub, out, python = "/usr/bin/python3", command;
    std::string here = "bench/client_overhead"; // request.json and coral_style_client.py
    std::vector<int> levels = {1000, 10000};
    int requests = 50000, python_requests = 10000;
    bool plugin_only = false; // --plugin-only: skip the Python clients (for profiling the plugin)
};

Args parse(int argc, char **argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string k = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + k);
            return argv[++i];
        };
        if (k == "--plugins") a.plugins = value();
        else if (k == "--stub") a.stub = value();
        else if (k == "--out") a.out = value();
        else if (k == "--python") a.python = value();
        else if (k == "--here") a.here = value();
        else if (k == "--command") a.command = value();
        else if (k == "--requests") a.requests = std::stoi(value());
        else if (k == "--python-requests") a.python_requests = std::stoi(value());
        else if (k == "--plugin-only") a.plugin_only = true;
        else if (k == "--levels") {
            a.levels.clear();
            std::stringstream in(value());
            for (std::string x; std::getline(in, x, ',');) a.levels.push_back(std::stoi(x));
        } else die("unknown option " + k);
    }
    if (a.plugins.empty() || a.stub.empty() || a.out.empty()) die("--plugins, --stub and --out are required");
    return a;
}

// Starts the stub server; returns its port.
int start_stub(const std::string &stub) {
    const fs::path port_file = fs::temp_directory_path() / ("parley-stub-port-" + std::to_string(getpid()));
    fs::remove(port_file);
    pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        execl(stub.c_str(), stub.c_str(), "--port-file", port_file.c_str(), static_cast<char *>(nullptr));
        _exit(127);
    }
    g_child = pid;
    for (int i = 0; i < 500; ++i) {
        int port = 0;
        std::ifstream(port_file) >> port;
        if (port > 0) {
            fs::remove(port_file);
            return port;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    die("the stub server did not start");
}

// Seconds this process's threads have run and have waited runnable for a core (the kernel's
// /proc/self/task/*/schedstat: on-CPU and run-queue nanoseconds): where wall time above CPU
// time goes when the machine is shared.
std::pair<double, double> sched_s() {
    double run = 0, wait = 0;
    for (auto &t : fs::directory_iterator("/proc/self/task")) {
        std::ifstream f(t.path() / "schedstat");
        double r = 0, w = 0;
        if (f >> r >> w) {
            run += r * 1e-9;
            wait += w * 1e-9;
        }
    }
    return {run, wait};
}

struct Phase {
    int in_flight = 0;
    long requests = 0, ok = 0;
    double wall_s = 0, cpu_s = 0, stub_cpu_s = 0;
    double runqueue_wait_s = -1; // the plugin's process only (-1: not measured)
    json to_json() const {
        json j = {{"in_flight", in_flight},
                {"requests", requests},
                {"ok", ok},
                {"wall_s", wall_s},
                {"requests_per_s", ok / wall_s},
                {"cpu_s", cpu_s},
                {"cpu_s_per_1000_requests", 1000 * cpu_s / std::max(ok, 1L)},
                {"stub_cpu_s", stub_cpu_s},
                {"stub_cpu_share_of_wall", stub_cpu_s / wall_s}};
        if (runqueue_wait_s >= 0) j["runqueue_wait_s"] = runqueue_wait_s;
        return j;
    }
};

// The openai plugin: `requests` chat completions, `in_flight` outstanding at a time (each
// completion submits the next, on the plugin's thread, as an evaluation engine does).
Phase run_plugin(const Args &a, const std::string &url, int in_flight, long requests) {
    json body = json::parse(std::ifstream(fs::path(a.here) / "request.json"));
    json cfg = {{"url", url},         {"model", "stub"},      {"max_in_flight", in_flight}, {"max_host_connections", in_flight},
                {"max_retries", 0},   {"timeout_s", 600.0}};
    Backend b((fs::path(a.plugins) / "libparley-openai.so").string(), cfg);
    Request q;
    for (auto &m : body["messages"]) q.messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    q.temperature = body["temperature"].get<double>();
    q.top_p = body["top_p"].get<double>();
    q.max_tokens = body["max_tokens"].get<int>();
    q.has_seed = true;

    std::mutex mu;
    std::condition_variable cv;
    long submitted = 0, done = 0, ok = 0;
    std::function<void()> submit_one = [&] {
        Request r = q;
        r.seed = static_cast<uint64_t>(submitted);
        r.conversation = static_cast<uint64_t>(submitted) + 1;
        ++submitted;
        b.submit(r, [&](Result &&res) {
            std::lock_guard<std::mutex> lock(mu);
            ++done;
            ok += res.status == PARLEY_OK && !res.text.empty();
            if (res.status != PARLEY_OK && done - ok <= 3) std::fprintf(stderr, "client_overhead: request failed: %s\n", res.error.c_str());
            if (submitted < requests) submit_one();
            if (done == requests) cv.notify_all();
        });
    };
    {
        // One request first: the plugin's worker and the first connection are up before timing.
        std::mutex wmu;
        std::condition_variable wcv;
        bool warm = false;
        b.submit(q, [&](Result &&) {
            std::lock_guard<std::mutex> lock(wmu);
            warm = true;
            wcv.notify_all();
        });
        std::unique_lock<std::mutex> lock(wmu);
        wcv.wait(lock, [&] { return warm; });
    }
    Phase p;
    p.in_flight = in_flight;
    p.requests = requests;
    const double c0 = process_cpu_s(), s0 = child_cpu_s(g_child), q0 = sched_s().second;
    const auto t0 = Clock::now();
    {
        std::unique_lock<std::mutex> lock(mu);
        while (submitted < std::min<long>(in_flight, requests)) submit_one();
        cv.wait(lock, [&] { return done == requests; });
    }
    p.wall_s = since(t0);
    p.cpu_s = process_cpu_s() - c0;
    p.stub_cpu_s = child_cpu_s(g_child) - s0;
    p.runqueue_wait_s = sched_s().second - q0;
    p.ok = ok;
    return p;
}

Phase run_python(const Args &a, const std::string &url, int in_flight, long requests, const std::string &session) {
    const std::string script = (fs::path(a.here) / "coral_style_client.py").string();
    const std::string cmd = a.python + " " + script + " --url " + url + " --requests " + std::to_string(requests) + " --in-flight " +
                            std::to_string(in_flight) + " --session " + session;
    const double s0 = child_cpu_s(g_child);
    FILE *p = popen(cmd.c_str(), "r");
    if (!p) die("cannot run " + cmd);
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    if (pclose(p) != 0) die("the Python client failed: " + cmd + "\n" + out);
    json j = json::parse(out);
    Phase ph;
    ph.in_flight = in_flight;
    ph.requests = requests;
    ph.ok = j["ok"].get<long>();
    ph.wall_s = j["wall_s"].get<double>();
    ph.cpu_s = j["cpu_s"].get<double>();
    ph.stub_cpu_s = child_cpu_s(g_child) - s0; // includes the interpreter's start-up: the stub is idle then
    return ph;
}

} // namespace

int main(int argc, char **argv) {
    g_program = "client_overhead";
    signal(SIGPIPE, SIG_IGN);
    Args a = parse(argc, argv);
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    const std::string url = "http://127.0.0.1:" + std::to_string(start_stub(a.stub));
    // The machine's load (1, 5, 15 minutes) at the start and the end: absolute rates on a shared
    // machine depend on it; the ratios are measured back to back within the run.
    auto load_average = [] {
        double l[3] = {0, 0, 0};
        getloadavg(l, 3);
        return json::array({l[0], l[1], l[2]});
    };
    const json load_start = load_average();

    json levels = json::array();
    for (int level : a.levels) {
        std::fprintf(stderr, "client_overhead: %d in flight: openai plugin (%d requests)...\n", level, a.requests);
        Phase plugin = run_plugin(a, url, level, a.requests);
        if (a.plugin_only) {
            std::fprintf(stderr, "client_overhead: %d in flight: plugin %.0f req/s, %.3f CPU s/1000, wall %.2f s, CPU %.2f s, waiting for a core %.2f s, stub %.0f%% of wall\n", level,
                         plugin.ok / plugin.wall_s, 1000 * plugin.cpu_s / std::max(plugin.ok, 1L), plugin.wall_s, plugin.cpu_s,
                         plugin.runqueue_wait_s, 100 * plugin.stub_cpu_s / plugin.wall_s);
            levels.push_back({{"in_flight", level}, {"openai_plugin", plugin.to_json()}});
            continue;
        }
        std::fprintf(stderr, "client_overhead: %d in flight: Coral-style Python, session per call (%d requests)...\n", level, a.python_requests);
        Phase coral = run_python(a, url, level, a.python_requests, "per_call");
        std::fprintf(stderr, "client_overhead: %d in flight: Python, one pooled session (%d requests)...\n", level, a.python_requests);
        Phase pooled = run_python(a, url, level, a.python_requests, "pooled");
        auto per_req = [](const Phase &p) { return p.cpu_s / std::max(p.ok, 1L); };
        auto rps = [](const Phase &p) { return p.ok / p.wall_s; };
        levels.push_back({{"in_flight", level},
                          {"openai_plugin", plugin.to_json()},
                          {"python_coral_style", coral.to_json()},
                          {"python_pooled", pooled.to_json()},
                          {"cpu_per_request_vs_python", per_req(plugin) / per_req(coral)},
                          {"requests_per_s_vs_python", rps(plugin) / rps(coral)},
                          {"cpu_per_request_vs_python_pooled", per_req(plugin) / per_req(pooled)},
                          {"requests_per_s_vs_python_pooled", rps(plugin) / rps(pooled)}});
        std::fprintf(stderr, "client_overhead: %d in flight: plugin %.0f req/s, %.3f CPU s/1000; Coral-style %.0f req/s, %.3f CPU s/1000; pooled %.0f req/s, %.3f CPU s/1000\n",
                     level, rps(plugin), 1000 * per_req(plugin), rps(coral), 1000 * per_req(coral), rps(pooled), 1000 * per_req(pooled));
    }
    kill(g_child, SIGTERM);
    waitpid(g_child, nullptr, 0);
    g_child = -1;

    json at_1000 = levels[0];
    for (auto &l : levels)
        if (l["in_flight"] == 1000) at_1000 = l;
    json result = {{"command", a.command},
                   {"what", "the openai plugin vs a Coral-style aiohttp client (a new session per call, as Matrix's make_request) "
                            "against an instant loopback stub server; CPU seconds of each client process"},
                   {"cpu_per_request_vs_python", at_1000["cpu_per_request_vs_python"]},
                   {"requests_per_s_vs_python", at_1000["requests_per_s_vs_python"]},
                   {"in_flight_of_headline", at_1000["in_flight"]},
                   {"load_average_start", load_start},
                   {"load_average_end", load_average()},
                   {"cores", std::thread::hardware_concurrency()},
                   // run.sh links jemalloc with the host's options (core/cli/allocator.cpp) when installed
                   {"allocator", dlsym(RTLD_DEFAULT, "mallctl") ? "jemalloc" : "libc"},
                   {"levels", levels}};
    std::ofstream(a.out) << result.dump(2) << "\n";
    std::printf("%s\n", result.dump(2).c_str());
    return 0;
}
