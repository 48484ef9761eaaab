// The webhook benchmark's baseline: cpp-httplib over TLS tuned as issue 3
// describes (TCP_NODELAY, long keep-alive, a thread pool that grows with the
// connections, a wide listen backlog), answering every POST /validate with a fixed body and doing
// no admission work. podguard's throughput is compared against this.
//   null_tls_server CERT KEY PORT RESPONSE_FILE
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include <httplib.h>

#include "elastic_task_queue.h"

namespace {

class Server final : public httplib::SSLServer {
 public:
  using httplib::SSLServer::SSLServer;
  void widen_backlog() {
    const socket_t s = svr_sock_;
    if (s != INVALID_SOCKET) ::listen(s, 1024);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: null_tls_server CERT KEY PORT RESPONSE_FILE\n";
    return 2;
  }
  std::ifstream in(argv[4], std::ios::binary);
  std::ostringstream body;
  body << in.rdbuf();
  const std::string response = body.str();
  Server server(argv[1], argv[2]);
  if (!server.is_valid()) {
    std::cerr << "null_tls_server: cannot load " << argv[1] << " / " << argv[2] << "\n";
    return 2;
  }
  SSL_CTX_set_min_proto_version(server.ssl_context(), TLS1_2_VERSION);
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1'000'000);
  server.set_keep_alive_timeout(5);
  server.new_task_queue = [] {
    return new podguard::server::ElasticTaskQueue(2, 1024, std::chrono::seconds(60));
  };
  server.Post("/validate", [&response](const httplib::Request&, httplib::Response& res) {
    res.set_content(response, "application/json");
  });
  if (!server.bind_to_port("127.0.0.1", std::stoi(argv[3]))) {
    std::cerr << "null_tls_server: cannot listen on port " << argv[3] << "\n";
    return 2;
  }
  server.widen_backlog();
  std::cout << "listening on 127.0.0.1:" << argv[3] << std::endl;
  server.listen_after_bind();
  return 0;
}
