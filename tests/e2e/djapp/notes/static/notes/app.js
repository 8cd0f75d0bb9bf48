// Portcullis e2e: collected as notes/app.<hash>.js by ManifestStaticFilesStorage.
document.addEventListener("DOMContentLoaded", function () {
  document.body.dataset.ready = "yes";
});
