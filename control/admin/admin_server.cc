#include "control/admin/admin_server.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace isthmus {
namespace {

constexpr mode_t kSocketMode = 0600;     // root (or the daemon's user) only
constexpr mode_t kDirectoryMode = 0750;  // group may traverse, others may not
constexpr int kListenBacklog = 16;
constexpr int kMaxEventsPerPoll = 32;
constexpr int kMaxAcceptsPerPoll = 16;
constexpr size_t kReadChunkBytes = 16 * 1024;
constexpr absl::Duration kMinIdleCheck = absl::Milliseconds(10);
constexpr absl::Duration kMaxIdleCheck = absl::Seconds(1);

absl::Status ErrnoStatus(int err, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", ErrnoText(err));
  switch (err) {
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    case EADDRINUSE:
    case EEXIST:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

// mkdir -p for the socket's directory. Directories we create get 0750
// regardless of the umask; existing ones are left as the admin set them up.
absl::Status EnsureParentDirectory(const std::string& socket_path) {
  const std::filesystem::path parent = std::filesystem::path(socket_path).parent_path();
  if (parent.empty()) return absl::OkStatus();
  std::error_code ec;
  if (std::filesystem::is_directory(parent, ec)) return absl::OkStatus();
  if (std::filesystem::exists(parent, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("admin socket directory ", parent.string(), " exists but is not a directory"));
  }
  if (absl::Status s = EnsureParentDirectory(parent.string()); !s.ok()) return s;
  if (::mkdir(parent.c_str(), kDirectoryMode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, absl::StrCat("cannot create directory ", parent.string()));
  }
  if (::chmod(parent.c_str(), kDirectoryMode) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot set mode 0750 on ", parent.string()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSocketDirectory(const std::string& dir, mode_t mode, uid_t owner, uid_t daemon_uid) {
  constexpr absl::string_view kAccepted =
      "accepted: a directory owned by root or the daemon's user that neither group nor others may "
      "write (e.g. 0750 or 0755, as /run/isthmus is made)";
  if (!S_ISDIR(mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("admin socket directory ", dir, " exists but is not a directory; ", kAccepted));
  }
  // Whoever may write the directory may rename a socket of their own over
  // ours, and isthmusctl (run as root) would then talk to an impostor.
  if ((mode & (S_IWGRP | S_IWOTH)) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "admin socket directory %s has mode %04o, which lets group or others write it; %s", dir,
        mode & 07777, kAccepted));
  }
  if (owner != 0 && owner != daemon_uid) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "admin socket directory %s is owned by uid %u (the daemon runs as uid %u); %s", dir, owner,
        daemon_uid, kAccepted));
  }
  return absl::OkStatus();
}

namespace {

// The socket's directory, after EnsureParentDirectory (stat follows a
// symlink: what matters is the directory the socket is bound in).
absl::Status CheckParentDirectory(const std::string& socket_path) {
  const std::filesystem::path dir = std::filesystem::path(socket_path).parent_path();
  const std::string parent = dir.empty() ? std::string(".") : dir.string();
  struct stat st {};
  if (::stat(parent.c_str(), &st) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot inspect admin socket directory ", parent));
  }
  return CheckSocketDirectory(parent, st.st_mode, st.st_uid, ::geteuid());
}

// Whether a process accepts connections on `path` right now. A full backlog
// (EAGAIN) also means someone is listening.
absl::StatusOr<bool> SomeoneAnswers(const std::string& path, const sockaddr_un& addr) {
  ScopedFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return ErrnoStatus(errno, "cannot create a probe socket");
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return true;
  }
  if (errno == EAGAIN || errno == EINPROGRESS) return true;
  if (errno == ECONNREFUSED) return false;
  return ErrnoStatus(errno, absl::StrCat("cannot probe existing socket ", path));
}

// Leaves `path` free for us: fails if a live daemon owns it or if it is not
// a socket; removes a socket file left behind by a crashed daemon.
absl::Status ClaimSocketPath(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoStatus(errno, absl::StrCat("cannot inspect ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " exists and is not a socket; refusing to replace it (set admin.socket elsewhere)"));
  }
  absl::StatusOr<bool> alive = SomeoneAnswers(path, addr);
  if (!alive.ok()) return alive.status();
  if (*alive) {
    return absl::AlreadyExistsError(absl::StrCat(
        "another isthmusd is already answering on ", path,
        "; stop it first or configure a different admin.socket"));
  }
  spdlog::warn("admin: removing stale socket {} (nobody answers on it)", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("cannot remove stale socket ", path));
  }
  return absl::OkStatus();
}

// Binds under a temporary name, sets the mode, listens and only then renames
// onto the final path: nobody can connect while the mode still depends on
// the umask, and clients never see a socket that refuses connections.
absl::StatusOr<ScopedFd> BindAndListen(const std::string& path) {
  const std::string temp_path = absl::StrCat(path, ".", ::getpid(), ".tmp");
  absl::StatusOr<sockaddr_un> temp_addr = UnixSocketAddress(temp_path);
  if (!temp_addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin socket path ", path, " is too long (the server needs room for ",
                     temp_path, ")"));
  }
  ScopedFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "cannot create the admin socket");
  ::unlink(temp_path.c_str());  // left over from a crash between bind and rename
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*temp_addr), sizeof(*temp_addr)) != 0) {
    return ErrnoStatus(errno, absl::StrCat("cannot bind ", temp_path));
  }
  absl::Status status;
  if (::chmod(temp_path.c_str(), kSocketMode) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("cannot set mode 0600 on ", temp_path));
  } else if (::listen(fd.get(), kListenBacklog) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("cannot listen on ", temp_path));
  } else if (::rename(temp_path.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("cannot move ", temp_path, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(temp_path.c_str());
    return status;
  }
  return fd;
}

}  // namespace

struct AdminServer::Client {
  ScopedFd fd;
  std::string in;
  std::string out;
  size_t out_offset = 0;        // bytes of `out` already sent
  uint32_t interest = EPOLLIN;  // events registered with epoll
  Clock::time_point last_activity = Clock::now();
  bool peer_eof = false;  // peer shut down its side: answer what is left, then close
  bool closing = false;   // protocol error: flush the error, then close
  bool broken = false;    // I/O error: close now

  bool HasPendingOutput() const { return out_offset < out.size(); }
};

AdminServer::AdminServer(std::string socket_path, AdminHandler handler, AdminServerOptions options)
    : socket_path_(std::move(socket_path)), handler_(std::move(handler)), options_(options) {}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Listen(const std::string& socket_path,
                                                                AdminHandler handler,
                                                                AdminServerOptions options) {
  if (!handler) return absl::InvalidArgumentError("admin server needs a request handler");
  std::unique_ptr<AdminServer> server(new AdminServer(socket_path, std::move(handler), options));
  if (absl::Status s = server->Start(); !s.ok()) return s;
  spdlog::info("admin: listening on {}", socket_path);
  return server;
}

absl::Status AdminServer::Start() {
  absl::StatusOr<sockaddr_un> addr = UnixSocketAddress(socket_path_);
  if (!addr.ok()) return addr.status();
  if (absl::Status s = EnsureParentDirectory(socket_path_); !s.ok()) return s;
  if (absl::Status s = CheckParentDirectory(socket_path_); !s.ok()) return s;
  if (absl::Status s = ClaimSocketPath(socket_path_, *addr); !s.ok()) return s;
  absl::StatusOr<ScopedFd> listen_fd = BindAndListen(socket_path_);
  if (!listen_fd.ok()) return listen_fd.status();
  listen_fd_ = *std::move(listen_fd);

  struct stat st {};
  if (::stat(socket_path_.c_str(), &st) == 0) {
    socket_dev_ = st.st_dev;
    socket_ino_ = st.st_ino;
  }
  return SetUpEpoll();
}

absl::Status AdminServer::SetUpEpoll() {
  epoll_fd_.Reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_.valid()) return ErrnoStatus(errno, "cannot create the admin epoll set");
  timer_fd_.Reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_fd_.valid()) return ErrnoStatus(errno, "cannot create the admin idle timer");
  for (const int fd : {listen_fd_.get(), timer_fd_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      return ErrnoStatus(errno, "cannot register with the admin epoll set");
    }
  }
  return absl::OkStatus();
}

AdminServer::~AdminServer() {
  clients_.clear();
  listen_fd_.Reset();
  if (socket_ino_ == 0) return;
  // Unlink only the file we created: if an operator already replaced it, the
  // new socket belongs to someone else.
  struct stat st {};
  if (::lstat(socket_path_.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
      st.st_ino == socket_ino_) {
    ::unlink(socket_path_.c_str());
  }
}

void AdminServer::Poll() {
  epoll_event events[kMaxEventsPerPoll];
  const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEventsPerPoll, 0);
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    if (fd == listen_fd_.get()) {
      AcceptClients();
    } else if (fd == timer_fd_.get()) {
      uint64_t expirations = 0;
      [[maybe_unused]] const ssize_t r = ::read(fd, &expirations, sizeof(expirations));
    } else {
      HandleClient(fd, events[i].events);
    }
  }
  ReapIdleClients();
}

void AdminServer::AcceptClients() {
  for (int i = 0; i < kMaxAcceptsPerPoll; ++i) {
    ScopedFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        spdlog::warn("admin: accept on {} failed: {}", socket_path_, ErrnoText(errno));
      }
      return;
    }
    if (clients_.size() >= options_.max_clients) {
      const std::string busy = DumpJsonLine(MakeAdminResponse(absl::ResourceExhaustedError(
                                   "too many admin connections; try again later"))) +
                               "\n";
      [[maybe_unused]] const ssize_t w = ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL);
      continue;  // fd closes here
    }
    AddClient(std::move(fd));
  }
}

void AdminServer::AddClient(ScopedFd fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd.get();
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
    spdlog::warn("admin: cannot watch a new client: {}", ErrnoText(errno));
    return;
  }
  auto client = std::make_unique<Client>();
  const int key = fd.get();
  client->fd = std::move(fd);
  if (clients_.empty()) ArmIdleTimer(true);
  clients_.emplace(key, std::move(client));
}

void AdminServer::HandleClient(int fd, uint32_t events) {
  const auto it = clients_.find(fd);
  if (it == clients_.end()) return;
  Client& client = *it->second;
  if (events & EPOLLOUT) FlushClient(client);
  const bool readable = events & (EPOLLIN | EPOLLHUP | EPOLLERR);
  if (readable && !client.broken && !client.closing && !client.HasPendingOutput()) {
    ReadFromClient(client);
  }
  if (!client.broken) AnswerCompleteLines(client);

  const bool done = !client.HasPendingOutput() &&
                    (client.closing || (client.peer_eof && client.in.empty()));
  if (client.broken || done) {
    CloseClient(fd);
  } else {
    UpdateInterest(client);
  }
}

bool AdminServer::ReadFromClient(Client& client) {
  // Read at most one request's worth past the limit per call, so one noisy
  // client cannot monopolize the control thread; level-triggered epoll brings
  // us back for the rest.
  const size_t budget = options_.max_request_bytes + kReadChunkBytes;
  char buf[kReadChunkBytes];
  while (client.in.size() < budget) {
    const ssize_t n = ::recv(client.fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      client.in.append(buf, static_cast<size_t>(n));
      client.last_activity = Clock::now();
    } else if (n == 0) {
      client.peer_eof = true;
      break;
    } else if (errno != EINTR) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) client.broken = true;
      break;
    }
  }
  return !client.broken;
}

// Answers requests one at a time; stops while an answer is still queued so a
// client that pipelines requests without reading answers gets backpressure.
void AdminServer::AnswerCompleteLines(Client& client) {
  while (!client.HasPendingOutput() && !client.closing && !client.broken) {
    size_t end = client.in.find('\n');
    if (end == std::string::npos) {
      if (client.in.size() <= options_.max_request_bytes && !client.peer_eof) return;
      if (client.in.empty()) return;
      end = client.in.size();  // oversized, or the last request before EOF
    }
    if (end > options_.max_request_bytes) {
      client.in.clear();
      client.closing = true;  // cannot find the next request boundary
      client.out = DumpJsonLine(MakeAdminResponse(absl::InvalidArgumentError(absl::StrFormat(
                       "request exceeds %d bytes", options_.max_request_bytes)))) +
                   "\n";
    } else {
      const absl::string_view line =
          absl::StripAsciiWhitespace(absl::string_view(client.in.data(), end));
      if (!line.empty()) client.out = AnswerAdminRequestLine(line, handler_) + "\n";
      client.in.erase(0, std::min(end + 1, client.in.size()));
    }
    client.out_offset = 0;
    FlushClient(client);
  }
}

bool AdminServer::FlushClient(Client& client) {
  while (client.HasPendingOutput()) {
    const ssize_t n = ::send(client.fd.get(), client.out.data() + client.out_offset,
                             client.out.size() - client.out_offset, MSG_NOSIGNAL);
    if (n > 0) {
      client.out_offset += static_cast<size_t>(n);
      client.last_activity = Clock::now();
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) client.broken = true;
      return !client.broken;
    }
  }
  client.out.clear();
  client.out_offset = 0;
  return true;
}

void AdminServer::UpdateInterest(Client& client) {
  const uint32_t wanted = client.HasPendingOutput() ? EPOLLOUT : EPOLLIN;
  if (wanted == client.interest) return;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.fd = client.fd.get();
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, client.fd.get(), &ev) != 0) {
    spdlog::warn("admin: cannot update a client's events: {}", ErrnoText(errno));
    CloseClient(client.fd.get());
    return;
  }
  client.interest = wanted;
}

void AdminServer::CloseClient(int fd) {
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  clients_.erase(fd);  // ScopedFd closes it
  if (clients_.empty()) ArmIdleTimer(false);
}

void AdminServer::ReapIdleClients() {
  if (clients_.empty()) return;
  const auto deadline = Clock::now() - absl::ToChronoNanoseconds(options_.idle_timeout);
  std::vector<int> idle;
  for (const auto& [fd, client] : clients_) {
    if (client->last_activity < deadline) idle.push_back(fd);
  }
  for (const int fd : idle) CloseClient(fd);
}

// The timer only runs while clients exist: it makes fd() readable so that
// idle clients are reaped even when no other event wakes the caller.
void AdminServer::ArmIdleTimer(bool armed) {
  const absl::Duration period =
      std::clamp(options_.idle_timeout / 4, kMinIdleCheck, kMaxIdleCheck);
  itimerspec spec{};
  if (armed) {
    spec.it_value = absl::ToTimespec(period);
    spec.it_interval = spec.it_value;
  }
  if (::timerfd_settime(timer_fd_.get(), 0, &spec, nullptr) != 0) {
    spdlog::warn("admin: cannot set the idle timer: {}", ErrnoText(errno));
  }
}

}  // namespace isthmus
