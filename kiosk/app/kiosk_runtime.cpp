#include "kiosk/app/kiosk_runtime.hpp"

#include <SDL.h>
#include <imgui.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include <qrencode.h>

#include <random>

#include "kiosk/app/certificate_services.hpp"
#include "kiosk/app/evidence_upload_worker.hpp"
#include "kiosk/app/identity_worker.hpp"
#include "kiosk/core/event_queue.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/policy/rule_pack.hpp"
#include "sync/client/https_client.hpp"
#include "sync/client/nciis_client.hpp"
#include "ui/common/fonts.hpp"
#include "ui/common/po_catalog.hpp"
#include "ui/common/script_runner.hpp"
#include "ui/common/touch_targets.hpp"
#include "ui/common/ui_window.hpp"
#include "ui/kiosk/kiosk_screens.hpp"

namespace kiosk::app {
namespace {

constexpr auto kFrameInterval = std::chrono::milliseconds{33};  // at most ~30 frames a second
constexpr int kIdleWaitMs = 250;                                // how often an idle loop looks at the signal flag
constexpr int kFramesAfterInput = 3;                            // press, release, and the frame that shows the result

void on_signal(int) { shutdown_signalled().store(true); }

std::string fixed1(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

// Posts event::Tick every second until stopped; stopping wakes it at once.
class Ticker {
 public:
  explicit Ticker(EventQueue<Event>& queue)
      : thread_([&queue](std::stop_token stop) {
          std::mutex mutex;
          std::condition_variable_any wake;
          std::unique_lock lock(mutex);
          while (!wake.wait_for(lock, stop, std::chrono::seconds{1}, [] { return false; })) {
            if (stop.stop_requested()) break;
            queue.push(event::Tick{});
          }
        }) {}

 private:
  std::jthread thread_;
};

// The evidence upload thread, beside the sealer: only where packages are sealed (a journal and a
// head-office recipient) and [evidence] upload is on. A worker that cannot start is logged and the
// kiosk runs on: packages stay safely queued in the outbox until the next start.
std::unique_ptr<EvidenceUploadWorker> start_evidence_upload(const KioskConfig& config, const Clock& clock,
                                                            EventQueue<Event>& queue) {
  if (!config.evidence_upload || config.evidence_recipient.empty() || config.staff_registry.empty()) {
    log::info("evidence_upload_off", {{"reason", !config.evidence_upload ? "evidence.upload is false"
                                                                         : "no evidence is sealed on this kiosk"}});
    return nullptr;
  }
  const sync::TlsIdentity tls = device_tls_identity(config);
  auto link =
      tus_evidence_link(EvidenceLinkConfig{.gateway_url = config.gateway_url,
                                           .tls = tls,
                                           .chunk_bytes = config.evidence_upload_chunk_bytes,
                                           .max_bytes_per_second = config.evidence_max_upload_bytes_per_second});
  auto verifier = receipt_verifier_for_ca_file(config.gateway_ca_file);
  if (!link || !verifier) {
    const Error& problem = !link ? link.error() : verifier.error();
    log::error("evidence_upload_unavailable", {{"code", problem.code}, {"message", problem.message}});
    return nullptr;
  }
  EvidenceUploadWorkerConfig worker_config;
  worker_config.device_id = config.device_id;
  worker_config.state_dir = config.state_dir;
  worker_config.audit_database = config.state_dir / "journal" / "journal.sqlite";  // the journal's audit log
  worker_config.local_retention = config.evidence_local_retention;
  worker_config.idle_poll = std::chrono::seconds{10};  // the sealer queues through its own connection
  auto worker = EvidenceUploadWorker::start(std::move(worker_config), clock, std::move(*link), std::move(*verifier),
                                            [&queue](const EvidenceUploadStatus& status) { queue.push(status); });
  if (!worker) {
    log::error("evidence_upload_unavailable", {{"code", worker.error().code}, {"message", worker.error().message}});
    return nullptr;
  }
  return std::move(*worker);
}

// NCIIS through head office, on the identity thread. The client is created per kiosk run; a
// client that cannot be created makes every check a transport failure (retry, never a bypass).
NciisCheck make_nciis_check(const KioskConfig& config) {
  auto client =
      sync::HttpsClient::create(config.gateway_url, device_tls_identity(config),
                                std::chrono::duration_cast<std::chrono::milliseconds>(config.gateway_timeout));
  if (!client) {
    const Error problem = client.error();
    return [problem](const std::string&, const std::string&, const std::string&) -> Result<NciisOutcome> {
      return std::unexpected(problem);
    };
  }
  auto shared = std::make_shared<sync::HttpsClient>(std::move(*client));
  const std::string device_id = config.device_id;
  return [shared, device_id](const std::string& transaction_id, const std::string& name,
                             const std::string& id_number) -> Result<NciisOutcome> {
    // A read outside any transaction (none today) still needs a unique reference.
    std::string reference = transaction_id;
    if (reference.empty()) {
      const auto now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      reference = device_id + "-" + std::to_string(now_ms);
    }
    auto answer = sync::check_identity(
        *shared, sync::NciisQuery{.transaction_id = reference, .name = name, .id_number = id_number});
    if (!answer) return std::unexpected(answer.error());
    return NciisOutcome{.result = std::string(sync::to_string(answer->result)),
                        .request_id = answer->request_id,
                        .checked_at = answer->checked_at,
                        .photo_sha256 = answer->photo_sha256};
  };
}

// A QR code as an SDL texture: one texel per module with a 4-module quiet zone, drawn scaled
// with nearest-neighbour sampling so the modules stay sharp.
SDL_Texture* make_qr_texture(SDL_Renderer* renderer, const std::string& text) {
  QRcode* code = QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (code == nullptr) return nullptr;
  const int quiet = 4;
  const int side = code->width + 2 * quiet;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(side) * side * 3, 255);
  for (int y = 0; y < code->width; ++y) {
    for (int x = 0; x < code->width; ++x) {
      if ((code->data[y * code->width + x] & 1) == 0) continue;
      const auto at = (static_cast<std::size_t>(y + quiet) * side + (x + quiet)) * 3;
      rgb[at] = rgb[at + 1] = rgb[at + 2] = 0;
    }
  }
  QRcode_free(code);
  SDL_Texture* texture = SDL_CreateTexture(renderer, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STATIC, side, side);
  if (texture == nullptr) return nullptr;
  SDL_SetTextureScaleMode(texture, SDL_ScaleModeNearest);
  SDL_UpdateTexture(texture, nullptr, rgb.data(), side * 3);
  return texture;
}

// Empties what was typed, overwriting it first (PINs and passwords must not linger).
void clear_input(ui::KioskInput& input) {
  for (std::string* field :
       {&input.staff_id, &input.staff_password, &input.pin, &input.new_pin, &input.new_pin_again}) {
    std::fill(field->begin(), field->end(), '\0');
    field->clear();
  }
  input.focus = 0;
  input.shift = false;
  input.pins_differ = false;
}

bool maintenance_chord(const SDL_KeyboardEvent& key) {
  const Uint16 mod = key.keysym.mod;
  return key.keysym.sym == SDLK_q && (mod & KMOD_CTRL) != 0 && (mod & KMOD_ALT) != 0 && (mod & KMOD_SHIFT) != 0;
}

}  // namespace

std::atomic<bool>& shutdown_signalled() {
  static std::atomic<bool> flag{false};
  return flag;
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      try {
        return std::stol(line.substr(6));
      } catch (...) {
        return 0;
      }
    }
  }
  return 0;
}

std::filesystem::path resolve_rule_pack(const std::filesystem::path& configured) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = exe.parent_path() / ".." / "share" / "csdc-kiosk" / "default-rulepack.toml";
    if (std::filesystem::exists(beside, ec)) return beside.lexically_normal();
  }
  return KIOSK_BUILD_TREE_RULE_PACK;
}

std::filesystem::path resolve_catalog_dir(const std::optional<std::filesystem::path>& preferred,
                                          const std::filesystem::path& configured) {
  std::error_code ec;
  if (preferred) return *preferred;  // explicit: used as given, so a typo is reported, not papered over
  if (std::filesystem::exists(configured / "zh_CN.po", ec)) return configured;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto beside = exe.parent_path() / ".." / "share" / "csdc-kiosk" / "i18n";
    if (std::filesystem::exists(beside / "zh_CN.po", ec)) return beside.lexically_normal();
  }
  return configured;
}

KioskRunResult run_kiosk(const KioskRunOptions& options) {
  const KioskConfig& config = options.config;
  KioskRunResult result;
  SystemClock clock;

  // The rule pack says which identity documents this kiosk's channel accepts (REQ-08).
  std::string pack_key;
  if (!config.rule_pack_public_key.empty()) {
    auto key = policy::read_bounded_file(config.rule_pack_public_key, 64 * 1024);
    if (!key) {
      log::error("start_failed", {{"code", key.error().code}, {"message", key.error().message}});
      result.exit_code = 2;
      return result;
    }
    pack_key = *key;
  }
  auto pack = policy::load_rule_pack(
      options.rule_pack.empty() ? resolve_rule_pack(config.rule_pack) : options.rule_pack,
      config.device_mode == DeviceMode::production ? policy::LoadMode::production : policy::LoadMode::simulator,
      pack_key);
  if (!pack) {
    log::error("start_failed", {{"code", pack.error().code}, {"message", pack.error().message}});
    result.exit_code = 2;
    return result;
  }

  auto catalogs = ui::load_catalogs(options.catalog_dir);
  if (!catalogs) {
    log::error("start_failed", {{"code", catalogs.error().code}, {"message", catalogs.error().message}});
    result.exit_code = 2;
    return result;
  }

  const ui::WindowOptions window_options{.title = catalogs->get(config.language).text("kiosk.window_title"),
                                         .fullscreen = config.fullscreen,
                                         .width = options.width,
                                         .height = options.height,
                                         .software_renderer = config.renderer == "software"};
  auto window = ui::UiWindow::create(window_options);
  if (!window) {
    log::error("start_failed", {{"code", window.error().code}, {"message", window.error().message}});
    result.exit_code = 2;
    return result;
  }
  const ui::FontSpec font_spec{
      .file = config.font_file, .index = config.font_index, .base_px = static_cast<float>(config.font_size_px)};
  // The atlas holds the catalogs' glyphs; a name read from a card may need more (added below).
  std::vector<std::string> atlas_texts = catalogs->all_texts();
  auto fonts = ui::build_font_atlas(*ImGui::GetIO().Fonts, font_spec, atlas_texts);
  if (!fonts) {
    log::error("start_failed", {{"code", fonts.error().code}, {"message", fonts.error().message}});
    result.exit_code = 2;
    return result;
  }
  ui::apply_kiosk_style();
  ui::KioskFonts kiosk_fonts{.base = fonts->base, .large = fonts->large, .title = fonts->title};
  std::string atlas_checked_name;  // the last masked name whose glyphs were checked
  // The decoded chip photo as a texture, rebuilt only when a new photo arrives.
  struct PhotoTexture {
    SDL_Texture* texture = nullptr;
    const void* source = nullptr;
    ~PhotoTexture() {
      if (texture != nullptr) SDL_DestroyTexture(texture);
    }
  };
  auto photo_texture = std::make_shared<PhotoTexture>();
  SDL_Renderer* renderer = window.value()->renderer();
  struct QrTexture {
    SDL_Texture* texture = nullptr;
    std::string text;
    ~QrTexture() {
      if (texture != nullptr) SDL_DestroyTexture(texture);
    }
  };
  auto qr_texture = std::make_shared<QrTexture>();
  ui::KioskInput input;
  ui::KioskView view{.device_id = config.device_id,
                     .photo_texture = [photo_texture, renderer](const ChipPhoto& photo) -> void* {
                       if (!photo.rgb || photo.rgb->size() != static_cast<std::size_t>(photo.width) * photo.height * 3)
                         return nullptr;
                       if (photo.rgb.get() != photo_texture->source) {
                         if (photo_texture->texture != nullptr) SDL_DestroyTexture(photo_texture->texture);
                         photo_texture->texture = SDL_CreateTexture(
                             renderer, SDL_PIXELFORMAT_RGB24, SDL_TEXTUREACCESS_STATIC, photo.width, photo.height);
                         if (photo_texture->texture != nullptr)
                           SDL_UpdateTexture(photo_texture->texture, nullptr, photo.rgb->data(), photo.width * 3);
                         photo_texture->source = photo.rgb.get();
                       }
                       return photo_texture->texture;
                     },
                     .qr_texture = [qr_texture, renderer](const std::string& text) -> void* {
                       if (qr_texture->texture == nullptr || qr_texture->text != text) {
                         if (qr_texture->texture != nullptr) SDL_DestroyTexture(qr_texture->texture);
                         qr_texture->texture = make_qr_texture(renderer, text);
                         qr_texture->text = text;
                       }
                       return qr_texture->texture;
                     },
                     .input = &input,
                     .submit_staff = {},
                     .submit_pin = {}};
  ui::TouchTargets targets;

  // Declared before every producer so that it outlives them.
  EventQueue<Event> queue;
  const Uint32 wake_event = SDL_RegisterEvents(1);
  if (wake_event != static_cast<Uint32>(-1)) {
    queue.set_waker([wake_event] {
      SDL_Event wake{};
      wake.type = wake_event;
      SDL_PushEvent(&wake);  // thread-safe; only interrupts the UI thread's wait
    });
  }
  Ticker ticker(queue);
  std::unique_ptr<sync::GatewayMonitor> monitor;
  if (options.gateway_monitor) {
    auto client =
        sync::HttpsClient::create(config.gateway_url, device_tls_identity(config),
                                  std::chrono::duration_cast<std::chrono::milliseconds>(config.gateway_timeout));
    if (client) {
      monitor = std::make_unique<sync::GatewayMonitor>(
          std::move(*client), std::chrono::duration_cast<std::chrono::milliseconds>(config.gateway_check_interval),
          [&queue](bool reachable, std::string problem) {
            queue.push(event::GatewayChecked{reachable, std::move(problem)});
          });
    } else {
      // The kiosk still runs (and says head office is offline) so that staff can see the problem.
      log::error("gateway_client_unavailable", {{"code", client.error().code}, {"message", client.error().message}});
      queue.push(event::GatewayChecked{false, client.error().code});
    }
  }

  IdentityWorkerConfig identity_config;
  identity_config.reader.device_path = id_reader_path(config).string();
  identity_config.reader.baud = config.id_reader_baud;
  identity_config.photo_decoder.library_path = config.id_photo_decoder.string();
  identity_config.accepted_documents = pack->pack.accepted_documents(channel_of(config.kiosk_mode));
  identity_config.nciis_check = config.nciis_check;
  identity_config.evidence_dir = config.state_dir / "evidence";
  IdentityWorker identity(std::move(identity_config), make_nciis_check(config), queue);

  // The certificate transaction needs head office's staff feed; without one the kiosk offers the
  // identity check only and says so for the rest.
  std::unique_ptr<CertificateServices> certificates;
  if (!config.staff_registry.empty()) {
    const std::string terms_hash = terms_version_hash(
        pack->pack.settings.terms_version,
        {catalogs->get(Language::zh_CN).text("tx.terms.body"), catalogs->get(Language::en).text("tx.terms.body")});
    auto opened = CertificateServices::open(config, pack->pack, terms_hash, identity, queue, clock);
    if (!opened) {
      log::error("start_failed", {{"code", opened.error().code}, {"message", opened.error().message}});
      result.exit_code = 2;
      return result;
    }
    certificates = std::move(*opened);
  }
  // After the certificate services: the journal (and its audit log) exists by now.
  std::unique_ptr<EvidenceUploadWorker> uploads = certificates ? start_evidence_upload(config, clock, queue) : nullptr;
  KioskSession session(session_settings(config), clock, certificates ? &certificates->port() : nullptr);
  if (certificates) {
    CertificateServices* services = certificates.get();
    view.submit_staff = [services, &session](std::string& staff_id, std::string& password) {
      services->submit_staff(staff_id, password, session.state().flow_attempt);
    };
    view.submit_pin = [services](std::string& pin, std::string& new_pin) { services->submit_pin(pin, new_pin); };
  }
  Screen input_screen = Screen::attract;  // the screen the typed input belongs to
  // The transaction whose end wakes the upload worker.
  std::string followed_evidence_transaction;
  std::mt19937 keypad_shuffle{std::random_device{}()};

  std::optional<ui::ScriptRunner> script;
  if (options.script) script.emplace(*options.script, options.screenshot_dir);
  // Scripts fill the staff sign-in fields like the on-screen keyboard would (PINs are tapped key by key).
  const ui::ScriptHost host{
      .current_screen = [&session] { return std::string(to_string(session.state().screen)); },
      .set_text =
          [&input, &session](std::string_view id, std::string_view text) {
            if (session.state().screen != Screen::staff_sign_in && session.state().screen != Screen::engineer_sign_in) {
              return false;
            }
            if (id == "staff.id") {
              input.staff_id = text;
            } else if (id == "staff.password") {
              input.staff_password = text;
            } else {
              return false;
            }
            return true;
          }};
  const auto post = [&queue](const Event& e) { queue.push(e); };

  int frames_wanted = 1;
  std::uint64_t drawn_revision = session.state().revision;
  bool first_frame_logged = false;
  bool shutdown_posted = false;
  auto last_frame = std::chrono::steady_clock::now() - kFrameInterval;

  const auto handle_sdl = [&](const SDL_Event& e) {
    if (e.type == wake_event) return;
    switch (e.type) {
      case SDL_QUIT:
        // The window manager's close (Alt+F4): honoured only where maintenance exit is allowed.
        if (config.maintenance_exit)
          queue.push(event::MaintenanceExit{});
        else
          log::info("quit_request_ignored", {{"reason", "kiosk mode"}});
        return;
      case SDL_KEYDOWN:
        if (maintenance_chord(e.key)) queue.push(event::MaintenanceExit{});
        return;  // the kiosk has no keyboard input: Escape and the rest are swallowed
      case SDL_KEYUP:
      case SDL_TEXTINPUT:
      case SDL_TEXTEDITING: return;
      case SDL_MOUSEBUTTONDOWN:
      case SDL_MOUSEBUTTONUP:
      case SDL_FINGERDOWN:
      case SDL_FINGERUP: frames_wanted = kFramesAfterInput; break;
      case SDL_WINDOWEVENT: frames_wanted = std::max(frames_wanted, 1); break;
      default: break;
    }
    window.value()->process_event(e);
  };

  while (true) {
    const auto now = std::chrono::steady_clock::now();
    const bool want_frame = frames_wanted > 0 || (script && script->active());
    int timeout_ms = kIdleWaitMs;
    if (want_frame) {
      const auto due = last_frame + kFrameInterval - now;
      timeout_ms = static_cast<int>(
          std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(due).count()));
    }
    SDL_Event e;
    if (SDL_WaitEventTimeout(&e, timeout_ms) != 0) {
      handle_sdl(e);
      while (SDL_PollEvent(&e) != 0) handle_sdl(e);
    }
    if (shutdown_signalled().load() && !shutdown_posted) {
      queue.push(event::Shutdown{});
      shutdown_posted = true;
    }
    for (const Event& event : queue.drain()) session.handle(event);
    const KioskState& state = session.state();
    if (state.exit_requested) break;
    if (state.identity && state.identity->masked_name != atlas_checked_name) {
      // A name's first character can be any of tens of thousands: extend the atlas on demand
      // rather than carry them all (between frames, so no draw list refers to the old texture).
      atlas_checked_name = state.identity->masked_name;
      if (!ui::missing_glyphs(*kiosk_fonts.large, {atlas_checked_name}).empty()) {
        atlas_texts.push_back(atlas_checked_name);
        auto rebuilt = ui::build_font_atlas(*ImGui::GetIO().Fonts, font_spec, atlas_texts);
        if (rebuilt && window.value()->recreate_font_texture()) {
          kiosk_fonts = ui::KioskFonts{.base = rebuilt->base, .large = rebuilt->large, .title = rebuilt->title};
          log::info("font_atlas_extended",
                    {{"glyphs", std::to_string(rebuilt->glyphs)}, {"build_ms", fixed1(rebuilt->build_ms)}});
        } else {
          // The old fonts may be gone with the failed build: rebuild what worked before.
          log::error("font_atlas_extension_failed", {{"code", rebuilt ? "FONT_TEXTURE_FAILED" : rebuilt.error().code}});
          atlas_texts.pop_back();
          auto restored = ui::build_font_atlas(*ImGui::GetIO().Fonts, font_spec, atlas_texts);
          if (!restored || !window.value()->recreate_font_texture()) {
            log::error("font_atlas_lost", {{"code", restored ? "FONT_TEXTURE_FAILED" : restored.error().code}});
            result.exit_code = 2;
            break;
          }
          kiosk_fonts = ui::KioskFonts{.base = restored->base, .large = restored->large, .title = restored->title};
        }
      }
    }
    if (certificates) certificates->follow(state);
    if (uploads && state.evidence_transaction_id != followed_evidence_transaction) {
      // A transaction ended (or began): its package is being sealed; look at the outbox now, and
      // the worker's short idle poll catches a package sealed a moment later.
      if (!followed_evidence_transaction.empty()) uploads->wake();
      followed_evidence_transaction = state.evidence_transaction_id;
    }
    if (state.screen != input_screen) {
      // Typed input belongs to one screen: wipe it on every change, and give each PIN screen a
      // freshly shuffled keypad when configured.
      clear_input(input);
      if (state.screen == Screen::token_pin && config.shuffled_keypad) {
        std::shuffle(input.keypad_order.begin(), input.keypad_order.end(), keypad_shuffle);
      }
      input_screen = state.screen;
    }
    if (state.screen == Screen::attract) identity.forget();
    if (state.screen == Screen::place_card) {
      identity.arm(state.identity_attempt, state.evidence_transaction_id);
    } else if (state.screen != Screen::reading_card) {
      identity.disarm();
    }
    if (state.revision != drawn_revision) {
      drawn_revision = state.revision;
      frames_wanted = std::max(frames_wanted, 2);
    }

    const auto frame_time = std::chrono::steady_clock::now();
    if (!(frames_wanted > 0 || (script && script->active())) || frame_time - last_frame < kFrameInterval) continue;
    last_frame = frame_time;
    if (frames_wanted > 0) --frames_wanted;

    window.value()->begin_frame();
    targets.begin_frame();
    ui::draw_kiosk(state, catalogs->get(state.language), kiosk_fonts, view, targets, post);
    targets.end_frame();
    window.value()->render(ui::kKioskBackground[0], ui::kKioskBackground[1], ui::kKioskBackground[2]);
    std::optional<ui::ScriptRunner::Status> script_status;
    if (script && script->active()) script_status = script->after_frame(**window, targets, host);
    window.value()->present();

    if (!first_frame_logged) {
      first_frame_logged = true;
      const double startup_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - options.process_start).count();
      log::info("first_frame", {{"startup_ms", fixed1(startup_ms)},
                                {"font_atlas_ms", fixed1(fonts->build_ms)},
                                {"glyphs", std::to_string(fonts->glyphs)},
                                {"atlas_width", std::to_string(fonts->atlas_width)},
                                {"atlas_height", std::to_string(fonts->atlas_height)},
                                {"rss_kib", std::to_string(resident_kib())},
                                {"renderer", window.value()->renderer_name()}});
    }
    if (script_status == ui::ScriptRunner::Status::quit || script_status == ui::ScriptRunner::Status::failed) {
      result.exit_code = script->exit_code();
      break;
    }
  }
  result.final_state = session.state();
  clear_input(input);
  monitor.reset();  // joins the monitor thread before the queue goes away
  uploads.reset();  // cancels an upload in flight (it resumes at the next start) and joins
  return result;
}

}  // namespace kiosk::app
