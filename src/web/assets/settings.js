// keyflow's only script: Show, Hide and Copy on the User Settings page, and the dialog that
// confirms a deletion. Served from the binary; the pages allow no other script.
'use strict';

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : '';
  const live = document.getElementById('live-status');

  function announce(text) {
    if (live) {
      live.textContent = '';
      // A fresh text node makes screen readers speak a repeated message again.
      window.setTimeout(function () { live.textContent = text; }, 50);
    }
  }

  // Asks the server for a key's value (an audited reveal). POST, so the value never sits in a URL.
  async function reveal(row) {
    const body = new URLSearchParams({ name: row.dataset.keyName, tenant: row.dataset.tenantId });
    const response = await fetch('/settings/keys/reveal', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'x-csrf-token': csrf, 'content-type': 'application/x-www-form-urlencoded' },
      body: body,
    });
    let answer = null;
    try { answer = await response.json(); } catch (_) { answer = null; }
    if (!response.ok) {
      throw new Error(typeof answer === 'string' ? answer : 'The key could not be shown.');
    }
    return answer.apiKey;
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // Plain HTTP on another host has no clipboard API: copy through a selected text area.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    const copied = document.execCommand('copy');
    area.remove();
    if (!copied) {
      throw new Error('The browser did not allow copying.');
    }
  }

  function showError(row, message) {
    const slot = row.querySelector('[data-key-error]');
    if (slot) {
      slot.textContent = message;
      slot.hidden = false;
    }
    announce(message);
  }

  function clearError(row) {
    const slot = row.querySelector('[data-key-error]');
    if (slot) {
      slot.textContent = '';
      slot.hidden = true;
    }
  }

  // The value of a row's key: already on the page (list policy, or shown), or fetched.
  async function valueOf(row) {
    const code = row.querySelector('.key-value');
    if (code.textContent) {
      return code.textContent;
    }
    return reveal(row);
  }

  // The Show/Hide button's text, and its name for screen readers, which says whose key it is.
  function label(button, verb, row) {
    button.textContent = verb;
    button.setAttribute('aria-label', verb + ' the key ' + row.dataset.keyName + ' of ' + row.dataset.tenantName);
  }

  async function toggle(button) {
    const row = button.closest('tr');
    const code = row.querySelector('.key-value');
    const preview = row.querySelector('.key-preview');
    clearError(row);
    if (!code.hidden) {
      code.hidden = true;
      if (preview) { preview.hidden = false; }
      // A value fetched for Show leaves the page again once hidden.
      if (row.dataset.fetched) {
        code.textContent = '';
        delete row.dataset.fetched;
      }
      label(button, 'Show', row);
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    try {
      if (!code.textContent) {
        code.textContent = await reveal(row);
        row.dataset.fetched = 'yes';
      }
      code.hidden = false;
      if (preview) { preview.hidden = true; }
      label(button, 'Hide', row);
      button.setAttribute('aria-expanded', 'true');
    } catch (error) {
      showError(row, error.message);
    }
  }

  async function copyKey(button) {
    const row = button.closest('tr');
    clearError(row);
    try {
      await copyText(await valueOf(row));
      announce('The key “' + row.dataset.keyName + '” was copied.');
      flash(button);
    } catch (error) {
      showError(row, error.message);
    }
  }

  async function copyFrom(button) {
    const source = document.getElementById(button.dataset.copyFrom);
    try {
      await copyText(source.textContent.trim());
      // "Copy the User ID" says "The User ID was copied."
      const what = (button.getAttribute('aria-label') || '').replace(/^Copy the /, '');
      announce(what ? 'The ' + what + ' was copied.' : 'Copied.');
      flash(button);
    } catch (error) {
      announce(error.message);
    }
  }

  // A moment of "Copied" on the button itself, for those who can see it.
  function flash(button) {
    button.classList.add('copied');
    window.setTimeout(function () { button.classList.remove('copied'); }, 1500);
  }

  function confirmDelete(link, event) {
    const dialog = document.getElementById('confirm-delete');
    if (!dialog || typeof dialog.showModal !== 'function') {
      return; // the link opens the confirmation page instead
    }
    event.preventDefault();
    const row = link.closest('tr');
    dialog.querySelector('[data-confirm-name]').textContent = row.dataset.keyName;
    dialog.querySelector('[data-confirm-tenant]').textContent = row.dataset.tenantName;
    dialog.querySelector('input[name="name"]').value = row.dataset.keyName;
    dialog.querySelector('input[name="tenant"]').value = row.dataset.tenantId;
    dialog.returnFocusTo = link;
    dialog.showModal();
    dialog.querySelector('button[value="cancel"]').focus();
  }

  document.addEventListener('click', function (event) {
    const target = event.target.closest('[data-show], [data-copy-key], [data-copy-from], [data-delete]');
    if (!target) {
      return;
    }
    if (target.hasAttribute('data-show')) {
      toggle(target);
    } else if (target.hasAttribute('data-copy-key')) {
      copyKey(target);
    } else if (target.hasAttribute('data-copy-from')) {
      copyFrom(target);
    } else if (target.hasAttribute('data-delete')) {
      confirmDelete(target, event);
    }
  });

  const dialog = document.getElementById('confirm-delete');
  if (dialog) {
    dialog.addEventListener('close', function () {
      if (dialog.returnFocusTo) {
        dialog.returnFocusTo.focus();
      }
    });
  }
})();
