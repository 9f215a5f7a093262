#pragma once
// The daemon's admin endpoint: a Unix stream socket speaking the protocol in
// admin_protocol.h. It runs inside the control thread's event loop and never
// blocks: the server keeps its own epoll set (listening socket, clients and an
// idle timer) and exposes that epoll fd, which is itself pollable. The caller
// adds fd() to its loop and calls Poll() whenever it is readable.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control/admin/admin_protocol.h"
#include "control/admin/unix_socket.h"

namespace isthmus {

struct AdminServerOptions {
  size_t max_request_bytes = kAdminMaxRequestBytes;
  // A client that neither sends nor receives for this long is disconnected,
  // so a forgotten `socat` cannot pin a slot forever.
  absl::Duration idle_timeout = absl::Seconds(30);
  size_t max_clients = 16;
};

// The rule for the socket's directory, on its stat data (testable for any
// mode and owner): a directory, not writable by group or others, owned by
// root or `daemon_uid`. The error names the directory, its mode and what is
// accepted.
[[nodiscard]] absl::Status CheckSocketDirectory(const std::string& dir, mode_t mode, uid_t owner,
                                                uid_t daemon_uid);

class AdminServer {
 public:
  // Creates the parent directory (mode 0750) if missing, refuses one that
  // fails CheckSocketDirectory, and listens on `socket_path` with mode 0600
  // (only root and the daemon's user may connect). Fails if another process answers on that
  // path; a stale socket file left by a crash is replaced. Refuses to remove
  // anything at that path that is not a socket.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Listen(const std::string& socket_path,
                                                            AdminHandler handler,
                                                            AdminServerOptions options = {});
  ~AdminServer();  // closes every connection and unlinks the socket path
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The server's epoll fd: readable when Poll() has work to do.
  int fd() const { return epoll_fd_.get(); }
  // Accepts, reads, answers and reaps idle clients; never blocks. Handles a
  // bounded number of events per call: call again while fd() is readable.
  void Poll();

  const std::string& socket_path() const { return socket_path_; }
  size_t client_count() const { return clients_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Client;

  AdminServer(std::string socket_path, AdminHandler handler, AdminServerOptions options);
  absl::Status Start();
  absl::Status SetUpEpoll();
  void AcceptClients();
  void AddClient(ScopedFd fd);
  void HandleClient(int fd, uint32_t events);
  bool ReadFromClient(Client& client);
  void AnswerCompleteLines(Client& client);
  bool FlushClient(Client& client);
  void UpdateInterest(Client& client);
  void CloseClient(int fd);
  void ReapIdleClients();
  void ArmIdleTimer(bool armed);

  std::string socket_path_;
  AdminHandler handler_;
  AdminServerOptions options_;
  ScopedFd listen_fd_;
  ScopedFd epoll_fd_;
  ScopedFd timer_fd_;
  dev_t socket_dev_ = 0;  // identity of the file we created, so the
  ino_t socket_ino_ = 0;  // destructor never unlinks someone else's socket
  absl::flat_hash_map<int, std::unique_ptr<Client>> clients_;
};

}  // namespace isthmus
